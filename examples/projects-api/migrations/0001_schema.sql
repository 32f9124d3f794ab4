-- Users, their projects and the files uploaded to them. Every project row
-- names its owner; every lookup of a project or file is scoped by it.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title       TEXT    NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX projects_owner ON projects(owner_id, id);

CREATE TABLE files (
    id           TEXT    PRIMARY KEY,          -- server-generated object id
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    display_name TEXT    NOT NULL,             -- sanitized; metadata only
    kind         TEXT    NOT NULL,             -- sniffed from the bytes
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX files_project ON files(project_id);
