//! HTTP routes, the OpenAPI document and Swagger UI.

pub mod calibration;
pub mod labels;
pub mod meta;
pub mod reports;
pub mod sessions;
pub mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest};
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{AppError, AppResult};
use crate::state::SharedState;
use crate::{ui, ws};

/// JSON body extractor whose rejections are [`AppError`]s (so they carry `{"error": ...}`).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// Query extractor whose rejections are [`AppError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// Parses an optional JSON body: empty or `null` → `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(body: &Bytes) -> AppResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::COOKIE_NAME))),
        );
    }
}

/// The OpenAPI document's static part (paths are added by the router).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gaze API",
        description = "Webcam gaze and activity tracking. Authenticate with `POST /users/login`, then send the token as `Authorization: Bearer <token>` or rely on the `gaze_token` HttpOnly cookie it sets.\n\nWebSockets: `/ws/session/{session_id}/track` takes JPEG/PNG frames (binary messages, or the original client's JSON `{\"image\": \"data:image/jpeg;base64,...\", \"timestamp\": ms}`) and replies per frame with gaze, face, activity, attention and running totals; `/ws/session/{session_id}/watch` streams the same replies to a viewer. Both authenticate with `?token=`, the cookie, or a first message `{\"token\": \"...\"}`; a bad token closes with 1008."
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "users", description = "Registration, login, profiles"),
        (name = "sessions", description = "Tracking sessions and reports"),
        (name = "labels", description = "Relabelling past sessions; per-user adaptation of the activity model"),
        (name = "calibration", description = "9-point screen calibration"),
        (name = "live", description = "WebSockets"),
        (name = "meta", description = "Health and metrics")
    )
)]
pub struct ApiDoc;

/// Builds the OpenAPI-documented router and the document.
pub fn api_router() -> (Router<SharedState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::register))
        .routes(routes!(users::login))
        .routes(routes!(users::logout))
        .routes(routes!(users::me))
        .routes(routes!(users::profile))
        .routes(routes!(sessions::start))
        .routes(routes!(sessions::end))
        .routes(routes!(sessions::get_session))
        .routes(routes!(reports::report_json))
        .routes(routes!(reports::report_csv))
        .routes(routes!(reports::report_svg))
        .routes(routes!(reports::report_pdf))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::list_user))
        .routes(routes!(labels::add, labels::list_session))
        .routes(routes!(labels::list))
        .routes(routes!(labels::delete))
        .routes(routes!(calibration::start))
        .routes(routes!(calibration::point))
        .routes(routes!(calibration::complete))
        .routes(routes!(calibration::get_calibration))
        .routes(routes!(ws::track))
        .routes(routes!(ws::watch))
        .routes(routes!(meta::health))
        .routes(routes!(meta::metrics))
        .split_for_parts()
}

/// The whole application: API, Swagger UI at `/docs`, `/openapi.json`, and the web UI.
pub fn app(st: SharedState) -> Router {
    let (api, doc) = api_router();
    let body_limit = st.config.body_limit();
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .merge(ui::router())
        .fallback(meta::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            crate::limits::guard_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            crate::security::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            meta::count_requests,
        ))
        .with_state(st)
}
