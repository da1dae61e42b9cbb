//! [`MemoryStore`]: the in-process backend.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gaze_activity::{SessionReport, TimelineSegment};
use tokio::sync::broadcast;

use crate::config::StoreConfig;
use crate::crypto;
use crate::error::{Result, StoreError};
use crate::store::{Backend, LiveFeed, Store};
use crate::types::*;
use crate::validate;

/// Capacity of each session's in-memory broadcast channel.
const LIVE_CAPACITY: usize = 256;

struct UserRec {
    user: User,
    phc: String,
    calibration: Option<serde_json::Value>,
    /// Index members (`<ts hex>:<session id>`) of the user's sessions.
    sessions: BTreeSet<String>,
    /// Hashes of the user's tokens.
    tokens: HashSet<String>,
    /// The user's labels by id.
    labels: HashMap<String, Label>,
    /// The user's activity-model adaptation.
    adaptation: Option<serde_json::Value>,
}

struct SessRec {
    record: SessionRecord,
    timeline: VecDeque<TimelineSegment>,
    /// Current fencing token (0 = never leased).
    ltok: u64,
    /// Current lease: holder and expiry.
    lease: Option<(String, Instant)>,
    /// Pending request to the holder.
    lreq: Option<LeaseRequest>,
    /// The session's sample trace.
    trace: Option<SessionTrace>,
}

impl SessRec {
    /// The holder of a lease that has not expired.
    fn holder(&self) -> Option<(&str, Instant)> {
        self.lease
            .as_ref()
            .filter(|(_, until)| *until > Instant::now())
            .map(|(h, until)| (h.as_str(), *until))
    }

    fn live(&self) -> Result<()> {
        if self.record.status == SessionStatus::Ended {
            return Err(StoreError::Conflict("session has ended".into()));
        }
        Ok(())
    }
}

struct TokenRec {
    hash: String,
    user_id: String,
    expires_at_ms: i64,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, UserRec>,
    usernames: HashMap<String, String>,
    emails: HashMap<String, String>,
    sessions: HashMap<String, SessRec>,
    all: BTreeSet<String>,
    live: BTreeSet<String>,
    tokens: HashMap<String, TokenRec>,
}

/// In-process store with the same semantics as [`RedisStore`](crate::RedisStore).
///
/// **Not persistent**: everything is lost when the process exits, and two processes never
/// share data. Use it for embedding, demos and tests; use Redis for anything that must
/// survive a restart or be shared between server instances.
pub struct MemoryStore {
    cfg: StoreConfig,
    inner: Mutex<Inner>,
    live: Mutex<HashMap<String, broadcast::Sender<String>>>,
    dummy_hash: Arc<OnceLock<String>>,
    /// Rate-limit buckets: tokens, last update, expiry.
    rates: Mutex<HashMap<String, (f64, Instant, Instant)>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(StoreConfig::default())
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new(cfg: StoreConfig) -> Self {
        MemoryStore {
            cfg,
            inner: Mutex::new(Inner::default()),
            live: Mutex::new(HashMap::new()),
            dummy_hash: Arc::new(OnceLock::new()),
            rates: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied update (every update
        // validates first and mutates last), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn user(&self, id: &str) -> Result<&UserRec> {
        self.users
            .get(id)
            .ok_or_else(|| StoreError::not_found("user"))
    }

    fn session_mut(&mut self, id: &str) -> Result<&mut SessRec> {
        self.sessions
            .get_mut(id)
            .ok_or_else(|| StoreError::not_found("session"))
    }

    fn page(
        &self,
        index: &BTreeSet<String>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Page<SessionRecord> {
        let iter: Box<dyn Iterator<Item = &String>> = match cursor {
            Some(c) => Box::new(
                index
                    .range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(c)))
                    .rev(),
            ),
            None => Box::new(index.iter().rev()),
        };
        let mut items = Vec::with_capacity(limit);
        let mut last = None;
        let mut more = false;
        for m in iter {
            if items.len() == limit {
                more = true;
                break;
            }
            let Ok(sid) = validate::index_member(m) else {
                continue;
            };
            if let Some(s) = self.sessions.get(sid) {
                items.push(s.record.clone());
                last = Some(m.clone());
            }
        }
        Page {
            items,
            next_cursor: if more { last } else { None },
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> Backend {
        Backend::Memory
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn create_user(&self, new: NewUser) -> Result<User> {
        validate::new_user(&new)?;
        let uname = validate::fold(&new.username);
        let email = new.email.as_deref().map(validate::fold);
        {
            let g = self.lock();
            if g.usernames.contains_key(&uname) {
                return Err(StoreError::Conflict("username taken".into()));
            }
        }
        let phc = crypto::hash_password_async(new.password, self.cfg.password).await?;
        let mut g = self.lock();
        if g.usernames.contains_key(&uname) {
            return Err(StoreError::Conflict("username taken".into()));
        }
        if let Some(e) = &email {
            if g.emails.contains_key(e) {
                return Err(StoreError::Conflict("email taken".into()));
            }
        }
        let mut id = crypto::new_id();
        while g.users.contains_key(&id) {
            id = crypto::new_id();
        }
        let user = User {
            id: id.clone(),
            username: new.username,
            email: new.email,
            created_at_ms: crypto::now_ms(),
        };
        g.usernames.insert(uname, id.clone());
        if let Some(e) = email {
            g.emails.insert(e, id.clone());
        }
        g.users.insert(
            id,
            UserRec {
                user: user.clone(),
                phc,
                calibration: None,
                sessions: BTreeSet::new(),
                tokens: HashSet::new(),
                labels: HashMap::new(),
                adaptation: None,
            },
        );
        Ok(user)
    }

    async fn get_user(&self, user_id: &str) -> Result<User> {
        validate::user_id(user_id)?;
        Ok(self.lock().user(user_id)?.user.clone())
    }

    async fn get_user_by_username(&self, username: &str) -> Result<User> {
        let g = self.lock();
        let id = g
            .usernames
            .get(&validate::fold(username))
            .ok_or_else(|| StoreError::not_found("user"))?;
        Ok(g.user(id)?.user.clone())
    }

    async fn verify_password(&self, username: &str, password: &str) -> Result<User> {
        let found = {
            let g = self.lock();
            g.usernames
                .get(&validate::fold(username))
                .and_then(|id| g.users.get(id))
                .map(|u| (u.user.clone(), u.phc.clone()))
        };
        crypto::check_login(found, password, self.dummy_hash.clone(), self.cfg.password).await
    }

    async fn set_calibration_json(
        &self,
        user_id: &str,
        calibration: serde_json::Value,
    ) -> Result<()> {
        validate::user_id(user_id)?;
        validate::blob("calibration", &serde_json::to_string(&calibration)?)?;
        let mut g = self.lock();
        let u = g
            .users
            .get_mut(user_id)
            .ok_or_else(|| StoreError::not_found("user"))?;
        u.calibration = Some(calibration);
        Ok(())
    }

    async fn get_calibration_json(&self, user_id: &str) -> Result<Option<serde_json::Value>> {
        validate::user_id(user_id)?;
        Ok(self.lock().user(user_id)?.calibration.clone())
    }

    async fn delete_user(&self, user_id: &str) -> Result<()> {
        validate::user_id(user_id)?;
        let mut g = self.lock();
        let rec = g
            .users
            .remove(user_id)
            .ok_or_else(|| StoreError::not_found("user"))?;
        g.usernames.remove(&validate::fold(&rec.user.username));
        if let Some(e) = &rec.user.email {
            g.emails.remove(&validate::fold(e));
        }
        for m in &rec.sessions {
            g.all.remove(m);
            g.live.remove(m);
            if let Ok(sid) = validate::index_member(m) {
                g.sessions.remove(sid);
            }
        }
        for h in &rec.tokens {
            g.tokens.remove(h);
        }
        Ok(())
    }

    async fn create_session(&self, new: NewSession) -> Result<SessionRecord> {
        validate::new_session(&new)?;
        let mut g = self.lock();
        g.user(&new.owner)?;
        let mut id = format!("{}-{}", new.owner, crypto::new_id());
        while g.sessions.contains_key(&id) {
            id = format!("{}-{}", new.owner, crypto::new_id());
        }
        let record = SessionRecord {
            id: id.clone(),
            owner: new.owner.clone(),
            source: new.source,
            started_at_ms: new.started_at_ms,
            status: SessionStatus::Live,
            checkpoint_seq: 0,
            last_checkpoint_ms: None,
            report: None,
            state: None,
            ended_at_ms: None,
        };
        let member = validate::index_member_for(new.started_at_ms, &id);
        if let Some(u) = g.users.get_mut(&new.owner) {
            u.sessions.insert(member.clone());
        }
        g.all.insert(member.clone());
        g.live.insert(member);
        g.sessions.insert(
            id,
            SessRec {
                record: record.clone(),
                timeline: VecDeque::new(),
                ltok: 0,
                lease: None,
                lreq: None,
                trace: None,
            },
        );
        Ok(record)
    }

    async fn checkpoint(
        &self,
        session_id: &str,
        checkpoint: Checkpoint,
    ) -> Result<CheckpointOutcome> {
        validate::session_id(session_id)?;
        validate::checkpoint(&checkpoint)?;
        validate::blob("state", &serde_json::to_string(&checkpoint.state)?)?;
        validate::report(&checkpoint.report)?;
        let cap = self.cfg.max_timeline_len;
        let mut g = self.lock();
        let s = g.session_mut(session_id)?;
        if s.record.status == SessionStatus::Ended {
            return Err(StoreError::Conflict("session has ended".into()));
        }
        if checkpoint.lease_token != s.ltok {
            return Ok(CheckpointOutcome::Fenced {
                current_token: s.ltok,
            });
        }
        let stored = s.record.checkpoint_seq;
        if checkpoint.seq <= stored {
            return Ok(CheckpointOutcome::Duplicate);
        }
        if !checkpoint.replace_timeline && stored < checkpoint.prev_seq {
            return Ok(CheckpointOutcome::Gap { stored_seq: stored });
        }
        s.record.checkpoint_seq = checkpoint.seq;
        s.record.last_checkpoint_ms = Some(checkpoint.at_ms);
        s.record.report = Some(checkpoint.report);
        s.record.state = Some(checkpoint.state);
        if checkpoint.replace_timeline {
            s.timeline.clear();
        }
        s.timeline.extend(checkpoint.segments);
        while s.timeline.len() > cap {
            s.timeline.pop_front();
        }
        Ok(CheckpointOutcome::Applied)
    }

    async fn end_session_fenced(
        &self,
        session_id: &str,
        report: SessionReport,
        lease_token: u64,
    ) -> Result<SessionRecord> {
        validate::session_id(session_id)?;
        validate::report(&report)?;
        let mut g = self.lock();
        let s = g.session_mut(session_id)?;
        if s.record.status == SessionStatus::Ended {
            return Err(StoreError::Conflict("session has already ended".into()));
        }
        if lease_token != s.ltok {
            return Err(StoreError::Fenced(format!(
                "lease token {lease_token} is not the current {}",
                s.ltok
            )));
        }
        s.lease = None;
        s.lreq = None;
        s.record.status = SessionStatus::Ended;
        s.record.report = Some(report);
        s.record.state = None;
        s.record.ended_at_ms = Some(crypto::now_ms());
        let record = s.record.clone();
        let member = validate::index_member_for(record.started_at_ms, &record.id);
        g.live.remove(&member);
        Ok(record)
    }

    async fn acquire_lease(
        &self,
        session_id: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAcquire> {
        validate::session_id(session_id)?;
        validate::lease(holder, ttl)?;
        let mut g = self.lock();
        let s = g.session_mut(session_id)?;
        s.live()?;
        if let Some((h, until)) = s.holder() {
            if h != holder {
                return Ok(LeaseAcquire::Held {
                    holder: h.to_owned(),
                    token: s.ltok,
                    expires_in_ms: until.saturating_duration_since(Instant::now()).as_millis()
                        as u64,
                });
            }
        }
        s.ltok += 1;
        s.lease = Some((holder.to_owned(), Instant::now() + ttl));
        s.lreq = None;
        Ok(LeaseAcquire::Acquired {
            token: s.ltok,
            checkpoint_seq: s.record.checkpoint_seq,
        })
    }

    async fn renew_lease(
        &self,
        session_id: &str,
        holder: &str,
        token: u64,
        ttl: Duration,
    ) -> Result<LeaseRenewal> {
        validate::session_id(session_id)?;
        validate::lease(holder, ttl)?;
        let mut g = self.lock();
        let s = g.session_mut(session_id)?;
        s.live()?;
        if s.ltok != token {
            return Ok(LeaseRenewal::Fenced {
                current_token: s.ltok,
            });
        }
        s.lease = Some((holder.to_owned(), Instant::now() + ttl));
        Ok(LeaseRenewal::Renewed { request: s.lreq })
    }

    async fn release_lease(&self, session_id: &str, token: u64) -> Result<bool> {
        validate::session_id(session_id)?;
        let mut g = self.lock();
        let s = g.session_mut(session_id)?;
        if s.ltok != token {
            return Ok(false);
        }
        s.lease = None;
        s.lreq = None;
        Ok(true)
    }

    async fn request_lease(&self, session_id: &str, request: LeaseRequest) -> Result<bool> {
        validate::session_id(session_id)?;
        let mut g = self.lock();
        let s = g.session_mut(session_id)?;
        s.live()?;
        if s.holder().is_none() {
            return Ok(false);
        }
        if s.lreq != Some(LeaseRequest::End) {
            s.lreq = Some(request);
        }
        Ok(true)
    }

    async fn get_session(&self, session_id: &str) -> Result<SessionRecord> {
        validate::session_id(session_id)?;
        Ok(self.lock().session_mut(session_id)?.record.clone())
    }

    async fn get_timeline(&self, session_id: &str) -> Result<Vec<TimelineSegment>> {
        validate::session_id(session_id)?;
        Ok(self
            .lock()
            .session_mut(session_id)?
            .timeline
            .iter()
            .copied()
            .collect())
    }

    async fn list_sessions(&self, page: PageRequest) -> Result<Page<SessionRecord>> {
        let limit = validate::page(&page)?;
        let g = self.lock();
        Ok(g.page(&g.all, limit, page.cursor.as_deref()))
    }

    async fn list_user_sessions(
        &self,
        user_id: &str,
        page: PageRequest,
    ) -> Result<Page<SessionRecord>> {
        validate::user_id(user_id)?;
        let limit = validate::page(&page)?;
        let g = self.lock();
        let u = g.user(user_id)?;
        Ok(g.page(&u.sessions, limit, page.cursor.as_deref()))
    }

    async fn list_live_sessions(&self, page: PageRequest) -> Result<Page<SessionRecord>> {
        let limit = validate::page(&page)?;
        let g = self.lock();
        Ok(g.page(&g.live, limit, page.cursor.as_deref()))
    }

    async fn set_trace(&self, session_id: &str, trace: &SessionTrace) -> Result<()> {
        validate::session_id(session_id)?;
        trace.validate()?;
        let mut g = self.lock();
        g.session_mut(session_id)?.trace = Some(trace.clone());
        Ok(())
    }

    async fn get_trace(&self, session_id: &str) -> Result<Option<SessionTrace>> {
        validate::session_id(session_id)?;
        let mut g = self.lock();
        Ok(g.session_mut(session_id)?.trace.clone())
    }

    async fn add_label(&self, user_id: &str, label: NewLabel) -> Result<Label> {
        validate::user_id(user_id)?;
        crate::labels::check_new_label(&label)?;
        let mut g = self.lock();
        g.user(user_id)?;
        let owner = validate::session_id(&label.session_id)
            .map_err(|_| StoreError::not_found("session"))?;
        if owner != user_id || !g.sessions.contains_key(&label.session_id) {
            return Err(StoreError::not_found("session"));
        }
        let u = g
            .users
            .get_mut(user_id)
            .ok_or_else(|| StoreError::not_found("user"))?;
        if u.labels.len() >= crate::MAX_LABELS_PER_USER {
            return Err(StoreError::invalid(format!(
                "at most {} labels per user",
                crate::MAX_LABELS_PER_USER
            )));
        }
        let mut id = crypto::new_id();
        while u.labels.contains_key(&id) {
            id = crypto::new_id();
        }
        let stored = Label {
            id: id.clone(),
            user_id: user_id.to_owned(),
            session_id: label.session_id,
            start_s: label.start_s,
            end_s: label.end_s,
            activity: label.activity,
            created_at_ms: crypto::now_ms(),
        };
        u.labels.insert(id, stored.clone());
        Ok(stored)
    }

    async fn list_labels(&self, user_id: &str) -> Result<Vec<Label>> {
        validate::user_id(user_id)?;
        let mut v: Vec<Label> = self
            .lock()
            .user(user_id)?
            .labels
            .values()
            .cloned()
            .collect();
        crate::labels::sort_labels(&mut v);
        Ok(v)
    }

    async fn delete_label(&self, user_id: &str, label_id: &str) -> Result<Label> {
        validate::user_id(user_id)?;
        crate::labels::check_label_id(label_id)?;
        let mut g = self.lock();
        g.users
            .get_mut(user_id)
            .and_then(|u| u.labels.remove(label_id))
            .ok_or_else(|| StoreError::not_found("label"))
    }

    async fn set_adaptation_json(
        &self,
        user_id: &str,
        adaptation: Option<serde_json::Value>,
    ) -> Result<()> {
        validate::user_id(user_id)?;
        if let Some(a) = &adaptation {
            crate::labels::adaptation_json(a)?;
        }
        let mut g = self.lock();
        let u = g
            .users
            .get_mut(user_id)
            .ok_or_else(|| StoreError::not_found("user"))?;
        u.adaptation = adaptation;
        Ok(())
    }

    async fn get_adaptation_json(&self, user_id: &str) -> Result<Option<serde_json::Value>> {
        validate::user_id(user_id)?;
        Ok(self.lock().user(user_id)?.adaptation.clone())
    }

    async fn issue_token(&self, user_id: &str, ttl: Duration) -> Result<IssuedToken> {
        validate::user_id(user_id)?;
        validate::token_ttl(ttl)?;
        let token = crypto::new_token();
        let hash = crypto::token_hash(&token);
        let now = crypto::now_ms();
        let expires_at_ms = now + ttl.as_millis() as i64;
        let mut g = self.lock();
        let Inner { users, tokens, .. } = &mut *g;
        let u = users
            .get_mut(user_id)
            .ok_or_else(|| StoreError::not_found("user"))?;
        // Drop this user's expired tokens so neither map grows without bound.
        u.tokens.retain(|h| {
            let alive = tokens.get(h).is_some_and(|t| t.expires_at_ms > now);
            if !alive {
                tokens.remove(h);
            }
            alive
        });
        u.tokens.insert(hash.clone());
        tokens.insert(
            hash.clone(),
            TokenRec {
                hash,
                user_id: user_id.to_owned(),
                expires_at_ms,
            },
        );
        Ok(IssuedToken {
            token,
            user_id: user_id.to_owned(),
            expires_at_ms,
        })
    }

    async fn resolve_token(&self, token: &str) -> Result<User> {
        if !crypto::token_well_formed(token) {
            return Err(StoreError::Unauthorized);
        }
        let hash = crypto::token_hash(token);
        let g = self.lock();
        let t = g.tokens.get(&hash).ok_or(StoreError::Unauthorized)?;
        if !crypto::ct_eq(&t.hash, &hash) || t.expires_at_ms <= crypto::now_ms() {
            return Err(StoreError::Unauthorized);
        }
        g.users
            .get(&t.user_id)
            .map(|u| u.user.clone())
            .ok_or(StoreError::Unauthorized)
    }

    async fn revoke_token(&self, token: &str) -> Result<()> {
        if !crypto::token_well_formed(token) {
            return Ok(());
        }
        let hash = crypto::token_hash(token);
        let mut g = self.lock();
        if let Some(t) = g.tokens.remove(&hash) {
            if let Some(u) = g.users.get_mut(&t.user_id) {
                u.tokens.remove(&hash);
            }
        }
        Ok(())
    }

    async fn rate_limit(
        &self,
        key: &str,
        capacity: u32,
        window: Duration,
        give_back: bool,
    ) -> Result<Option<Duration>> {
        validate::rate_key(key, window)?;
        if capacity == 0 {
            return Ok(None);
        }
        let now = Instant::now();
        let cap = f64::from(capacity);
        let per_sec = cap / window.as_secs_f64();
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        if rates.len() > 4096 {
            rates.retain(|_, (_, _, until)| *until > now);
        }
        let tok = match rates.get(key) {
            Some((tok, at, until)) if *until > now => {
                (tok + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(cap)
            }
            _ => cap,
        };
        let (tok, wait) = if give_back {
            ((tok + 1.0).min(cap), None)
        } else if tok < 1.0 - 1e-9 {
            let ms = ((1.0 - tok) / per_sec * 1000.0).ceil().max(1.0);
            (tok, Some(Duration::from_millis(ms as u64)))
        } else {
            (tok - 1.0, None)
        };
        rates.insert(key.to_owned(), (tok, now, now + window));
        Ok(wait)
    }

    async fn publish_live(&self, session_id: &str, message: &str) -> Result<usize> {
        validate::session_id(session_id)?;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = live.get(session_id) else {
            return Ok(0);
        };
        match tx.send(message.to_owned()) {
            Ok(n) => Ok(n),
            Err(_) => {
                live.remove(session_id);
                Ok(0)
            }
        }
    }

    async fn subscribe_live(&self, session_id: &str) -> Result<LiveFeed> {
        validate::session_id(session_id)?;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        // Forget channels whose subscribers are all gone.
        live.retain(|_, tx| tx.receiver_count() > 0);
        let rx = live
            .entry(session_id.to_owned())
            .or_insert_with(|| broadcast::channel(LIVE_CAPACITY).0)
            .subscribe();
        Ok(LiveFeed::from_broadcast(rx))
    }
}
