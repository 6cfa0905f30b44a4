-- +goose Up
-- An access key can be deactivated (`warden credentials deactivate`) and
-- activated again; an inactive key signs nothing.
ALTER TABLE access_keys ADD COLUMN inactive BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE access_keys DROP COLUMN inactive;
