-- A run store written by extremo's store schema before versioning (commit 729a707),
-- dumped with sqlite3 iterdump; tests/test_store.py migrates it.
BEGIN TRANSACTION;
CREATE TABLE checkpoints (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
INSERT INTO "checkpoints" VALUES(3,'boost',X'00016E6F742D612D7265616C2D636865636B706F696E74','2026-12-02T03:55:04+00:00');
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    problem TEXT NOT NULL,
    instance TEXT NOT NULL,
    label TEXT NOT NULL,
    command TEXT NOT NULL DEFAULT 'discover',
    seed INTEGER,
    settings TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    started TEXT NOT NULL,
    updated TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    value REAL,
    config TEXT,
    evaluations INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER,
    host TEXT,
    pid INTEGER
);
INSERT INTO "runs" VALUES(1,'circles-sum-radii','{"n": 4}','circles-sum-radii n=4','discover',0,'{"batch": 32, "seconds": 5.0, "workers": 1}','finished','2026-12-02T03:55:04+00:00','2026-12-02T03:55:04+00:00',5.0,1.0,'{"centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]], "radii": [0.25, 0.25, 0.25, 0.25]}',2400,NULL,'vm',NULL);
INSERT INTO "runs" VALUES(2,'circles-sum-radii','{"n": 4}','circles-sum-radii n=4','discover',1,'{"batch": 32}','interrupted','2026-12-02T03:55:04+00:00','2026-12-02T03:55:04+00:00',2.0,0.9,'{"centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]], "radii": [0.225, 0.225, 0.225, 0.225]}',300,1,'vm',NULL);
INSERT INTO "runs" VALUES(3,'heilbronn','{"n": 5, "region": "square"}','heilbronn n=5 region=square','boost',3,'{"mode": "closed"}','finished','2026-12-02T03:55:04+00:00','2026-12-02T03:55:04+00:00',3.0,NULL,NULL,10,NULL,'vm',NULL);
CREATE INDEX runs_label ON runs(label);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('runs',3);
COMMIT;
