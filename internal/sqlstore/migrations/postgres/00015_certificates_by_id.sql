-- +goose Up
-- The device endpoint finds a client certificate by its id alone: the TLS
-- handshake does not say which account the device belongs to.
CREATE INDEX certificates_by_id ON certificates (id, seq);

-- +goose Down
DROP INDEX certificates_by_id;
