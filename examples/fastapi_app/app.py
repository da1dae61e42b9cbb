"""A small FastAPI service over the gaze Python package, with the original API's endpoints.

* ``POST /users/register`` ``{"username", "password", "email"?}`` → 201 user
* ``POST /users/login`` (JSON or form) → ``{"access_token", "token_type": "bearer", ...}``
* ``POST /session/start`` (bearer) ``{"screen_width"?, "screen_height"?}`` → 201
  ``{"session_id", "track_url", ...}``
* ``POST /session/end`` (bearer) ``{"session_id"}`` → the final report
* ``GET /session/{id}`` (bearer) → the stored session record (running or final report)
* ``WS /ws/session/{id}/track?token=...``: send ``{"image": "data:image/jpeg;base64,...",
  "timestamp": ms}``, receive the per-frame gaze message (``gaze.FrameResult.to_dict()``) plus
  ``activity``, ``attention`` and running ``totals`` for every frame.

Tracking is ``gaze.Tracker`` (one per WebSocket, frames decoded with OpenCV and processed in
a worker thread: the GIL is released while a frame is processed); accounting is
``gaze.Session``; storage is Redis through redis-py (users, tokens, session records,
resumable session checkpoints).

Run: ``GAZE_REDIS_URL=redis://127.0.0.1:6379/0 uvicorn app:app`` (from this directory).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional
from urllib.parse import parse_qs

import cv2
import numpy as np
import redis
from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

import gaze

TOKEN_TTL_S = 7 * 24 * 3600
CHECKPOINT_EVERY = 25  # frames between stored session checkpoints
MAX_IMAGE_BYTES = 4 * 1024 * 1024


class RegisterRequest(BaseModel):
    username: str = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    password: str = Field(min_length=8, max_length=1024)
    email: Optional[str] = None


class StartRequest(BaseModel):
    screen_width: Optional[float] = Field(default=None, gt=0)
    screen_height: Optional[float] = Field(default=None, gt=0)
    source: str = "webcam"


class EndRequest(BaseModel):
    session_id: str


def _hash_password(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return salt.hex() + ":" + digest.hex()


def _check_password(password: str, stored: str) -> bool:
    salt_hex, _, _ = stored.partition(":")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(_hash_password(password, salt), stored)


def decode_data_url(data_url: str) -> np.ndarray:
    """A ``data:image/...;base64,...`` URL (or bare base64) to a BGR uint8 frame."""
    _, _, payload = data_url.rpartition(",")
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ValueError("image too large")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"image is not base64: {e}") from None
    frame = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError("image could not be decoded (JPEG, PNG or WebP expected)")
    return frame


@dataclass
class LiveSession:
    """One running session: the gaze accounting and a lock (frames of one session in order)."""

    session: gaze.Session
    owner: str
    frames: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Storage:
    """Users, tokens and sessions in Redis (JSON values under ``gaze:*`` keys)."""

    def __init__(self, client: redis.Redis):
        self.r = client

    def create_user(self, req: RegisterRequest) -> Dict[str, Any]:
        key = f"gaze:user:{req.username.lower()}"
        user = {
            "id": secrets.token_hex(8),
            "username": req.username,
            "email": req.email,
            "created_at_ms": int(time.time() * 1000),
        }
        record = dict(user, password=_hash_password(req.password, os.urandom(16)))
        if not self.r.set(key, json.dumps(record), nx=True):
            raise HTTPException(409, "username taken")
        self.r.set(f"gaze:user-id:{user['id']}", req.username.lower())
        return user

    def verify(self, username: str, password: str) -> Dict[str, Any]:
        raw = self.r.get(f"gaze:user:{username.lower()}")
        record = json.loads(raw) if raw else None
        if record is None or not _check_password(password, record["password"]):
            raise HTTPException(401, "wrong username or password")
        record.pop("password")
        return record

    def issue_token(self, user_id: str) -> str:
        token = "gzt_" + secrets.token_hex(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        self.r.set(f"gaze:token:{digest}", user_id, ex=TOKEN_TTL_S)
        return token

    def user_of_token(self, token: str) -> Optional[str]:
        digest = hashlib.sha256(token.encode()).hexdigest()
        user_id = self.r.get(f"gaze:token:{digest}")
        return user_id.decode() if user_id else None

    def save_session(self, record: Dict[str, Any]) -> None:
        self.r.set(f"gaze:session:{record['id']}", json.dumps(record))

    def get_session(self, session_id: str) -> Optional[Dict[str, Any]]:
        raw = self.r.get(f"gaze:session:{session_id}")
        return json.loads(raw) if raw else None

    def checkpoint(self, session_id: str, snapshot_json: str, report: Dict[str, Any]) -> None:
        record = self.get_session(session_id)
        if record is None:
            return
        record["report"] = report
        pipe = self.r.pipeline(transaction=True)
        pipe.set(f"gaze:session:{session_id}", json.dumps(record))
        pipe.set(f"gaze:session-state:{session_id}", snapshot_json)
        pipe.execute()


def create_app(redis_url: Optional[str] = None) -> FastAPI:
    """Builds the app; ``redis_url`` defaults to ``$GAZE_REDIS_URL`` or a local server."""
    url = redis_url or os.environ.get("GAZE_REDIS_URL", "redis://127.0.0.1:6379/0")
    store = Storage(redis.Redis.from_url(url))
    live: Dict[str, LiveSession] = {}
    live_lock = threading.Lock()
    app = FastAPI(title="gaze FastAPI example")

    def current_user(authorization: Optional[str] = Header(default=None)) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        user_id = store.user_of_token(token) if scheme.lower() == "bearer" and token else None
        if user_id is None:
            raise HTTPException(401, "missing or invalid bearer token")
        return user_id

    def live_session(session_id: str, user_id: str) -> LiveSession:
        with live_lock:
            ls = live.get(session_id)
            if ls is None:
                record = store.get_session(session_id)
                if record is None or record["owner"] != user_id:
                    raise HTTPException(404, f"session {session_id}")
                if record["status"] != "live":
                    raise HTTPException(409, f"session {session_id} has ended")
                # Resume from the last checkpoint (e.g. after a restart).
                state = store.r.get(f"gaze:session-state:{session_id}")
                session = (
                    gaze.Session.restore_json(state.decode()) if state else gaze.Session(session_id)
                )
                ls = live[session_id] = LiveSession(session=session, owner=record["owner"])
            if ls.owner != user_id:
                raise HTTPException(404, f"session {session_id}")
            return ls

    @app.post("/users/register", status_code=201)
    def register(req: RegisterRequest) -> Dict[str, Any]:
        return store.create_user(req)

    @app.post("/users/login")
    async def login(request: Request) -> Dict[str, Any]:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        else:
            try:
                form = json.loads(body or b"{}")
            except json.JSONDecodeError:
                raise HTTPException(400, "body must be JSON or a form") from None
        if not isinstance(form, dict):
            raise HTTPException(400, "body must be an object")
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise HTTPException(400, "username and password are required")
        user = await run_in_threadpool(store.verify, username, password)
        return {"access_token": store.issue_token(user["id"]), "token_type": "bearer", "user": user}

    @app.post("/session/start", status_code=201)
    def start(req: Optional[StartRequest] = None, user_id: str = Depends(current_user)) -> Dict[str, Any]:
        req = req or StartRequest()
        session_id = f"{user_id}-{secrets.token_hex(8)}"
        screen = (
            (req.screen_width, req.screen_height)
            if req.screen_width is not None and req.screen_height is not None
            else None
        )
        record = {
            "id": session_id,
            "owner": user_id,
            "source": req.source,
            "started_at_ms": int(time.time() * 1000),
            "status": "live",
            "report": None,
        }
        store.save_session(record)
        with live_lock:
            live[session_id] = LiveSession(session=gaze.Session(session_id, screen=screen), owner=user_id)
        return {
            "session_id": session_id,
            "started_at_ms": record["started_at_ms"],
            "track_url": f"/ws/session/{session_id}/track",
        }

    @app.post("/session/end")
    def end(req: EndRequest, user_id: str = Depends(current_user)) -> Dict[str, Any]:
        record = store.get_session(req.session_id)
        if record is None or record["owner"] != user_id:
            raise HTTPException(404, f"session {req.session_id}")
        if record["status"] == "ended":
            return record["report"]
        ls = live_session(req.session_id, user_id)
        with ls.lock:
            report = ls.session.finish()
        record.update(status="ended", report=report, ended_at_ms=int(time.time() * 1000))
        store.save_session(record)
        store.r.delete(f"gaze:session-state:{req.session_id}")
        with live_lock:
            live.pop(req.session_id, None)
        return report

    @app.get("/session/{session_id}")
    def get_session(session_id: str, user_id: str = Depends(current_user)) -> Dict[str, Any]:
        record = store.get_session(session_id)
        if record is None or record["owner"] != user_id:
            raise HTTPException(404, f"session {session_id}")
        ls = live.get(session_id)
        if record["status"] == "live" and ls is not None:
            with ls.lock:
                record["report"] = ls.session.report()
        return record

    def track_frame(tracker: gaze.Tracker, ls: LiveSession, session_id: str, msg: Dict[str, Any]) -> Dict[str, Any]:
        frame = decode_data_url(msg.get("image") or "")
        ts = msg.get("timestamp")
        if ts is not None and not isinstance(ts, (int, float)):
            raise ValueError("timestamp must be a number (ms)")
        result = tracker.process(frame, timestamp_ms=None if ts is None else float(ts))
        reply = result.to_dict()
        with ls.lock:
            status = ls.session.push(result)
            ls.frames += 1
            if ls.frames % CHECKPOINT_EVERY == 0:
                store.checkpoint(session_id, ls.session.snapshot_json(), ls.session.report())
        reply.update(
            activity=status["activity"],
            attention=status["attention"],
            totals=status["totals"],
            accepted=status["accepted"],
        )
        return reply

    @app.websocket("/ws/session/{session_id}/track")
    async def track(websocket: WebSocket, session_id: str) -> None:
        token = websocket.query_params.get("token") or ""
        user_id = store.user_of_token(token) if token else None
        if user_id is None:
            await websocket.close(code=1008)
            return
        try:
            ls = live_session(session_id, user_id)
        except HTTPException:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        tracker = gaze.Tracker()
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    msg = json.loads(text)
                    if not isinstance(msg, dict):
                        raise ValueError("message must be a JSON object")
                    reply = await run_in_threadpool(track_frame, tracker, ls, session_id, msg)
                except (ValueError, TypeError) as e:
                    reply = {"error": str(e)}
                await websocket.send_json(reply)
        except WebSocketDisconnect:
            pass

    return app


# `uvicorn app:app` (redis-py connects lazily); tests build their own with create_app(url).
app = create_app()
