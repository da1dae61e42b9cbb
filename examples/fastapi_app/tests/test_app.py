"""The FastAPI example end to end: FastAPI's TestClient against a real redis-server."""

import base64
import json

import cv2
import pytest
import redis
from fastapi.testclient import TestClient

from app import create_app

CLIP = "testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4"


@pytest.fixture(scope="module")
def client(redis_url):
    with TestClient(create_app(redis_url)) as c:
        yield c


@pytest.fixture(scope="module")
def data_urls():
    from conftest import ROOT

    cap = cv2.VideoCapture(str(ROOT / CLIP))
    urls = []
    while len(urls) < 60:
        ok, frame = cap.read()
        if not ok:
            break
        ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        urls.append("data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode())
    cap.release()
    assert len(urls) == 60
    return urls


def login(client, username="alice", password="correct horse"):
    r = client.post("/users/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_register_and_login(client, redis_url):
    r = client.post("/users/register", json={"username": "alice", "password": "correct horse"})
    assert r.status_code == 201 and r.json()["username"] == "alice"
    assert "password" not in r.json()
    assert client.post("/users/register", json={"username": "Alice", "password": "other pass"}).status_code == 409
    assert client.post("/users/register", json={"username": "x", "password": "short"}).status_code == 422
    token = login(client)
    assert token.startswith("gzt_")
    form = client.post("/users/login", data={"username": "alice", "password": "correct horse"})
    assert form.status_code == 200 and form.json()["token_type"] == "bearer"
    assert client.post("/users/login", json={"username": "alice", "password": "wrong pass"}).status_code == 401
    assert client.post("/users/login", json={"username": "nobody", "password": "whatever1"}).status_code == 401
    # Stored in redis, hashed.
    raw = redis.Redis.from_url(redis_url).get("gaze:user:alice")
    assert raw is not None and b"correct horse" not in raw


def test_session_tracking_over_websocket(client, data_urls, redis_url):
    token = login(client)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/session/start").status_code == 401
    r = client.post("/session/start", json={"screen_width": 1920, "screen_height": 1080}, headers=auth)
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    assert r.json()["track_url"] == f"/ws/session/{sid}/track"

    replies = []
    with client.websocket_connect(f"/ws/session/{sid}/track?token={token}") as ws:
        for i, url in enumerate(data_urls):
            ws.send_text(json.dumps({"image": url, "timestamp": 1_700_000_000_000 + i * 40}))
            replies.append(ws.receive_json())
        ws.send_text(json.dumps({"image": "data:image/jpeg;base64,AAAA", "timestamp": 1}))
        bad = ws.receive_json()
        ws.send_text("not json")
        bad2 = ws.receive_json()
    assert "error" in bad and "error" in bad2
    with_gaze = [m for m in replies if m["gaze"] is not None]
    assert len(with_gaze) >= 55
    first = with_gaze[0]
    assert set(first["gaze"]) >= {"horizontal", "vertical", "eyes"}
    assert set(first["face"]) == {"x", "y", "w", "h"}
    assert {"activity", "attention", "totals", "direction", "blink"} <= set(first)

    running = client.get(f"/session/{sid}", headers=auth).json()
    assert running["status"] == "live" and running["report"]["session_id"] == sid
    # Checkpoints went to redis every 25 frames.
    rc = redis.Redis.from_url(redis_url)
    assert rc.get(f"gaze:session-state:{sid}") is not None

    report = client.post("/session/end", json={"session_id": sid}, headers=auth).json()
    for key in ("session_id", "focus_time", "distraction_time", "session_report", "started_at", "ended_at", "duration", "timeline"):
        assert key in report
    assert set(report["session_report"]) == {"reading_time", "browsing_time", "watching_time"}
    assert report["duration"] == pytest.approx(59 * 0.040, abs=1e-6)
    assert report["focus_time"] + report["distraction_time"] + report["no_data_time"] == pytest.approx(report["duration"], abs=1e-3)
    stored = client.get(f"/session/{sid}", headers=auth).json()
    assert stored["status"] == "ended" and stored["report"] == report
    assert rc.get(f"gaze:session-state:{sid}") is None
    # Ending twice returns the same report.
    assert client.post("/session/end", json={"session_id": sid}, headers=auth).json() == report


def test_websocket_rejects_bad_tokens_and_foreign_sessions(client):
    from starlette.websockets import WebSocketDisconnect

    token = login(client)
    sid = client.post("/session/start", headers={"Authorization": f"Bearer {token}"}).json()["session_id"]
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect(f"/ws/session/{sid}/track?token=nope") as ws:
            ws.receive_json()
    assert e.value.code == 1008
    client.post("/users/register", json={"username": "mallory", "password": "password123"})
    other = login(client, "mallory", "password123")
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect(f"/ws/session/{sid}/track?token={other}") as ws:
            ws.receive_json()
    assert e.value.code == 1008
    assert client.get(f"/session/{sid}", headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert client.post("/session/end", json={"session_id": sid}, headers={"Authorization": f"Bearer {other}"}).status_code == 404
