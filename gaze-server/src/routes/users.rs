//! `/users/*`: register, login (JSON or form, token + HttpOnly cookie), logout, profiles.

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gaze_store::{NewUser, StoreError, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AuthUser, clear_cookie, login_cookie};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::limits::ClientIp;
use crate::routes::ApiJson;
use crate::state::SharedState;

/// `POST /users/register` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 characters of `[A-Za-z0-9_.-]`, starting with a letter or digit.
    #[schema(
        min_length = 3,
        max_length = 32,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )]
    pub username: String,
    /// 8–1024 bytes.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// Optional email (one `@`, no spaces, at most 254 bytes).
    #[serde(default)]
    #[schema(max_length = 254, format = Email)]
    pub email: Option<String>,
}

/// `POST /users/login` body (JSON or `application/x-www-form-urlencoded`, as the original
/// OAuth2 password form).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Username (case-insensitive).
    pub username: String,
    /// Password.
    pub password: String,
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Email, if given.
    pub email: Option<String>,
    /// Creation time (epoch ms).
    pub created_at_ms: i64,
    /// Admin flag (from the server's `--admin-user` list).
    pub is_admin: bool,
}

impl UserView {
    /// Builds the view of `u`.
    pub fn of(u: &User, is_admin: bool) -> Self {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            created_at_ms: u.created_at_ms,
            is_admin,
        }
    }
}

/// `POST /users/login` reply (OAuth2-style).
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token (also set as the `gaze_token` HttpOnly cookie).
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Expiry (epoch ms).
    pub expires_at_ms: i64,
    /// The user.
    pub user: UserView,
}

/// Creates a user.
#[utoipa::path(post, path = "/users/register", tag = "users",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid username, password or email", body = ErrorBody),
        (status = 409, description = "Username or email taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address (`Retry-After`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt can pass")))
    ))]
pub async fn register(
    State(st): State<SharedState>,
    ClientIp(ip): ClientIp,
    req: Request,
) -> AppResult<(StatusCode, Json<UserView>)> {
    st.limits.register_from(ip).await?;
    let ApiJson(req) = ApiJson::<RegisterRequest>::from_request(req, &st).await?;
    let user = st
        .store
        .create_user(NewUser {
            username: req.username,
            password: req.password,
            email: req.email.filter(|e| !e.trim().is_empty()),
        })
        .await?;
    tracing::info!(user = %user.id, username = %user.username, "user registered");
    let admin = st.config.is_admin(&user.username);
    Ok((StatusCode::CREATED, Json(UserView::of(&user, admin))))
}

/// Logs in: returns a bearer token and sets it as an HttpOnly cookie.
#[utoipa::path(post, path = "/users/login", tag = "users",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or failures for this user (`Retry-After`); the password is not checked", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt can pass")))
    ))]
pub async fn login(
    State(st): State<SharedState>,
    ClientIp(ip): ClientIp,
    req: Request,
) -> AppResult<Response> {
    st.limits.login_from(ip).await?;
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body: LoginRequest = if is_form {
        axum::Form::<LoginRequest>::from_request(req, &st)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::TooLarge(e.body_text())
                } else {
                    AppError::BadRequest(e.body_text())
                }
            })?
            .0
    } else {
        ApiJson::<LoginRequest>::from_request(req, &st).await?.0
    };
    // Takes a failure token first (refused without checking the password when none is
    // left), gives it back on success: only failures count per username.
    let attempt = st.limits.login_as(&body.username).await?;
    let user = match st
        .store
        .verify_password(&body.username, &body.password)
        .await
    {
        Ok(u) => {
            attempt.succeeded().await;
            u
        }
        Err(StoreError::Unavailable(m)) => {
            attempt.not_counted().await;
            return Err(AppError::Unavailable(m));
        }
        Err(StoreError::Internal(m)) => {
            attempt.not_counted().await;
            return Err(AppError::Internal(m));
        }
        Err(_) => {
            tracing::info!(%ip, "failed login");
            return Err(AppError::Unauthorized);
        }
    };
    let ttl = st.config.token_ttl();
    let issued = st.store.issue_token(&user.id, ttl).await?;
    let admin = st.config.is_admin(&user.username);
    let cookie = login_cookie(&issued.token, ttl.as_secs(), st.config.cookie_secure);
    let reply = LoginResponse {
        access_token: issued.token,
        token_type: "bearer".into(),
        expires_at_ms: issued.expires_at_ms,
        user: UserView::of(&user, admin),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(reply)).into_response())
}

/// Revokes the caller's token and clears the cookie.
#[utoipa::path(post, path = "/users/logout", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(State(st): State<SharedState>, auth: AuthUser) -> AppResult<Response> {
    st.store.revoke_token(&auth.token).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie())],
    )
        .into_response())
}

/// The caller's profile.
#[utoipa::path(get, path = "/users/me", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(auth: AuthUser) -> Json<UserView> {
    Json(UserView::of(&auth.user, auth.is_admin))
}

/// A user's profile: the caller's own, or anyone's for an admin (others get 403).
#[utoipa::path(get, path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "Username")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Another user's profile", body = ErrorBody),
        (status = 404, description = "No such user (admins only)", body = ErrorBody)
    ))]
pub async fn profile(
    State(st): State<SharedState>,
    auth: AuthUser,
    Path(username): Path<String>,
) -> AppResult<Json<UserView>> {
    if auth.user.username.eq_ignore_ascii_case(&username) {
        return Ok(Json(UserView::of(&auth.user, auth.is_admin)));
    }
    if !auth.is_admin {
        return Err(AppError::Forbidden);
    }
    let u = st.store.get_user_by_username(&username).await?;
    let admin = st.config.is_admin(&u.username);
    Ok(Json(UserView::of(&u, admin)))
}
