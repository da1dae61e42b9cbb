//! Users, sessions, reports and live timelines for gaze (filled in by the store issue).
