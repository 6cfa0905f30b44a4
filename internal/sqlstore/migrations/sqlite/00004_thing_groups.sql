-- +goose Up
-- Things: lookups by type and by attribute, so that ListThings filters are
-- keyset-paginated index range scans. thing_attributes mirrors things.attributes
-- (the JSON document stays the source of truth for DescribeThing).
CREATE INDEX things_by_type ON things (account, region, thing_type_name, name);

CREATE TABLE thing_attributes (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    thing_name TEXT NOT NULL,
    attr_name  TEXT NOT NULL,
    attr_value TEXT NOT NULL,
    PRIMARY KEY (account, region, thing_name, attr_name)
);
CREATE INDEX thing_attributes_by_value ON thing_attributes (account, region, attr_name, attr_value, thing_name);
CREATE INDEX thing_attributes_by_name ON thing_attributes (account, region, attr_name, thing_name);

-- Static and dynamic thing groups. A static group's parent is fixed at
-- creation, so root_name and depth never change; dynamic groups have no parent
-- (root_name is their own name, depth 1) and hold the query that decides their
-- members.
CREATE TABLE thing_groups (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    name          TEXT NOT NULL,
    id            TEXT NOT NULL,
    parent_name   TEXT NOT NULL DEFAULT '',
    root_name     TEXT NOT NULL,
    depth         INTEGER NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    attributes    TEXT NOT NULL DEFAULT '{}',
    dynamic       INTEGER NOT NULL DEFAULT 0,
    index_name    TEXT NOT NULL DEFAULT '',
    query_string  TEXT NOT NULL DEFAULT '',
    query_version TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT '',
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX thing_groups_by_parent ON thing_groups (account, region, parent_name, name);
CREATE INDEX thing_groups_dynamic ON thing_groups (account, region, dynamic, seq);

-- Closure of the hierarchy: one row per (ancestor, descendant) pair,
-- including each group with itself at distance 0. At most 7 rows per group.
CREATE TABLE thing_group_ancestors (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    ancestor   TEXT NOT NULL,
    descendant TEXT NOT NULL,
    distance   INTEGER NOT NULL,
    PRIMARY KEY (account, region, ancestor, descendant)
);
CREATE INDEX thing_group_ancestors_by_descendant ON thing_group_ancestors (account, region, descendant, distance);

-- Membership of things in groups. The unique key orders a group's members
-- by thing name, which is the keyset of ListThingsInThingGroup; the second
-- index serves ListThingGroupsForThing and the per-thing limits.
CREATE TABLE thing_group_members (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    group_name TEXT NOT NULL,
    thing_name TEXT NOT NULL,
    dynamic    INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (account, region, group_name, thing_name)
);
CREATE INDEX thing_group_members_by_thing ON thing_group_members (account, region, thing_name, group_name);

-- +goose Down
DROP TABLE thing_group_members;
DROP TABLE thing_group_ancestors;
DROP TABLE thing_groups;
DROP TABLE thing_attributes;
DROP INDEX things_by_type;
