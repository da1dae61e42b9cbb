//! Activity model: fixations/saccades, reading / browsing / watching / distracted.
//! (Skeleton; the activity issue fills this in.)
