package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

func encodeAttrs(m map[string]string) (string, error) {
	if m == nil {
		m = map[string]string{}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func decodeAttrs(s string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

func topicExists(ctx context.Context, q queryRower, s warden.Scope, name string) error {
	ok, err := rowExists(ctx, q, `SELECT 1 FROM sns_topics WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name)
	if err == nil && !ok {
		return warden.SNSTopicNotFound()
	}
	return err
}

func getTopic(ctx context.Context, q queryRower, s warden.Scope, name string) (warden.Topic, int64, error) {
	t := warden.Topic{Name: name}
	var seq, created int64
	var attrs string
	err := q.QueryRowContext(ctx, `SELECT seq, attributes, created_at FROM sns_topics WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name).Scan(&seq, &attrs, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, 0, warden.SNSTopicNotFound()
	}
	if err != nil {
		return t, 0, err
	}
	t.CreatedAt = fromMillis(created)
	t.Attributes, err = decodeAttrs(attrs)
	return t, seq, err
}

func topicTags(ctx context.Context, tx writeTx, s warden.Scope, arn string) (map[string]string, error) {
	tags := map[string]string{}
	err := queryEach(ctx, tx, func(r rowScanner) error {
		var k, v string
		err := r.Scan(&k, &v)
		tags[k] = v
		return err
	}, `SELECT tag_key, tag_value FROM tags WHERE account = ? AND region = ? AND resource_arn = ?`, s.Account, s.Region, arn)
	if err != nil {
		return nil, err
	}
	return tags, nil
}

// CreateTopic stores a topic, or returns the existing one of that name.
func (db *DB) CreateTopic(ctx context.Context, s warden.Scope, t warden.Topic, tags []warden.Tag) (warden.Topic, bool, error) {
	created := false
	err := db.inTx(ctx, func(tx writeTx) error {
		existing, _, err := getTopic(ctx, tx, s, t.Name)
		if err == nil {
			for k, v := range t.Attributes {
				if existing.Attributes[k] != v {
					return warden.SNSInvalidParameter("Attributes Reason: Topic already exists with different attributes")
				}
			}
			if len(tags) > 0 {
				stored, err := topicTags(ctx, tx, s, existing.ARN(s))
				if err != nil {
					return err
				}
				for _, tag := range tags {
					if v, ok := stored[tag.Key]; !ok || v != tag.Value {
						return warden.SNSInvalidParameter("Tags Reason: Topic already exists with different tags")
					}
				}
			}
			t = existing
			return nil
		}
		if warden.ErrorCode(err) != warden.CodeSNSNotFound {
			return err
		}
		if err := requireBelow(ctx, tx, warden.MaxSNSTopics, warden.ErrSNSTopicsLimit,
			`SELECT COUNT(*) FROM sns_topics WHERE account = ? AND region = ?`, s.Account, s.Region); err != nil {
			return err
		}
		// Empty values mean "not set", as in SetTopicAttributes.
		attrs := maps.Clone(t.Attributes)
		maps.DeleteFunc(attrs, func(_, v string) bool { return v == "" })
		t.Attributes = attrs
		if t.Attributes == nil {
			t.Attributes = map[string]string{}
		}
		encoded, err := encodeAttrs(t.Attributes)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sns_topics (account, region, name, attributes, created_at) VALUES (?, ?, ?, ?, ?)`,
			s.Account, s.Region, t.Name, encoded, millis(t.CreatedAt)); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s, t.ARN(s), tags); err != nil {
			return err
		}
		created = true
		return logChange(ctx, tx, s, t.ARN(s), "CreateTopic", nil, map[string]any{"Attributes": t.Attributes, "Tags": tags}, t.CreatedAt)
	})
	return t, created, wrap(err, "create topic")
}

// DeleteTopic removes a topic and everything that hangs on it.
func (db *DB) DeleteTopic(ctx context.Context, s warden.Scope, name string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sns_topics WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if err := execAll(ctx, tx, []any{s.Account, s.Region, name},
			`DELETE FROM sns_subscriptions WHERE account = ? AND region = ? AND topic = ?`,
			`DELETE FROM sns_deliveries WHERE account = ? AND region = ? AND topic = ?`,
			`DELETE FROM sns_messages WHERE account = ? AND region = ? AND topic = ?`); err != nil {
			return err
		}
		arn := s.SNSARN(name)
		if err := deleteTags(ctx, tx, s, arn); err != nil {
			return err
		}
		return logChange(ctx, tx, s, arn, "DeleteTopic", map[string]any{"Name": name}, nil, now)
	}), "delete topic")
}

// Topic returns one topic with its subscription counts.
func (db *DB) Topic(ctx context.Context, s warden.Scope, name string) (warden.Topic, error) {
	t, _, err := getTopic(ctx, db.read, s, name)
	if err != nil {
		return t, wrap(err, "topic")
	}
	err = queryEach(ctx, db.read, func(r rowScanner) error {
		var status string
		var n int
		if err := r.Scan(&status, &n); err != nil {
			return err
		}
		switch status {
		case warden.SubscriptionPending:
			t.SubscriptionsPending = n
		case warden.SubscriptionConfirmed:
			t.SubscriptionsConfirmed = n
		case warden.SubscriptionDeleted:
			t.SubscriptionsDeleted = n
		}
		return nil
	}, `SELECT status, COUNT(*) FROM sns_subscriptions
		WHERE account = ? AND region = ? AND topic = ? GROUP BY status`, s.Account, s.Region, name)
	if err != nil {
		return t, fmt.Errorf("subscriptions of topic %s: %w", name, err)
	}
	return t, nil
}

// Topics lists topics oldest first; the cursor is the last topic's sequence
// number.
func (db *DB) Topics(ctx context.Context, s warden.Scope, p warden.Page) ([]warden.Topic, string, error) {
	after, _, _, err := seqCursor(p.After, true, warden.SNSInvalidParameter("NextToken"))
	if err != nil {
		return nil, "", wrap(err, "topics")
	}
	out, next, err := seqPage(ctx, db.read, p.Limit, `SELECT seq, name, attributes, created_at FROM sns_topics
		WHERE account = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{s.Account, s.Region, after, p.Limit + 1},
		func(r *sql.Rows) (t warden.Topic, seq int64, err error) {
			var attrs string
			var created int64
			if err := r.Scan(&seq, &t.Name, &attrs, &created); err != nil {
				return t, 0, err
			}
			t.CreatedAt = fromMillis(created)
			t.Attributes, err = decodeAttrs(attrs)
			return t, seq, err
		})
	if err != nil {
		return nil, "", fmt.Errorf("topics: %w", err)
	}
	return out, next, nil
}

// SetTopicAttribute sets or removes one attribute.
func (db *DB) SetTopicAttribute(ctx context.Context, s warden.Scope, topic, name, value string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		t, seq, err := getTopic(ctx, tx, s, topic)
		if err != nil {
			return err
		}
		before, had := t.Attributes[name]
		if value == "" {
			delete(t.Attributes, name)
		} else {
			t.Attributes[name] = value
		}
		encoded, err := encodeAttrs(t.Attributes)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sns_topics SET attributes = ? WHERE seq = ?`, encoded, seq); err != nil {
			return err
		}
		var b any
		if had {
			b = map[string]string{name: before}
		}
		return logChange(ctx, tx, s, t.ARN(s), "SetTopicAttributes", b, map[string]string{name: value}, now)
	}), "set topic attribute")
}

const subscriptionColumns = `arn, topic, protocol, endpoint, owner, status, token, token_expires, auth_unsubscribe, attributes, created_at`

func scanSubscription(r rowScanner) (warden.Subscription, error) {
	var sub warden.Subscription
	var expires, created int64
	var auth int
	var attrs string
	if err := r.Scan(&sub.Arn, &sub.Topic, &sub.Protocol, &sub.Endpoint, &sub.Owner, &sub.Status, &sub.Token,
		&expires, &auth, &attrs, &created); err != nil {
		return sub, err
	}
	sub.TokenExpires, sub.CreatedAt = fromMillis(expires), fromMillis(created)
	sub.AuthenticateOnUnsubscribe = auth != 0
	var err error
	sub.Attributes, err = decodeAttrs(attrs)
	return sub, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// enqueueDelivery writes one outbox row, due now.
func enqueueDelivery(ctx context.Context, tx writeTx, s warden.Scope, topic, kind, messageID, subArn, endpoint, token string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sns_deliveries (account, region, topic, kind, message_id, subscription_arn, endpoint, token,
		status, attempt, next_at, lease_owner, lease_expires, last_error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', 0, '', ?)`,
		s.Account, s.Region, topic, kind, messageID, subArn, endpoint, token, millis(now), millis(now))
	return err
}

// Subscribe subscribes an endpoint and queues its confirmation.
func (db *DB) Subscribe(ctx context.Context, s warden.Scope, sub warden.Subscription, now time.Time) (warden.Subscription, error) {
	err := db.inTx(ctx, func(tx writeTx) error {
		if err := topicExists(ctx, tx, s, sub.Topic); err != nil {
			return err
		}
		if sub.Attributes == nil {
			sub.Attributes = map[string]string{}
		}
		existing, err := scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM sns_subscriptions
			WHERE account = ? AND region = ? AND topic = ? AND protocol = ? AND endpoint = ?`,
			s.Account, s.Region, sub.Topic, sub.Protocol, sub.Endpoint))
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if found && existing.Status != warden.SubscriptionDeleted {
			if !maps.Equal(existing.Attributes, sub.Attributes) && len(sub.Attributes) > 0 {
				return warden.SNSInvalidParameter("Attributes Reason: Subscription already exists with different attributes")
			}
			if existing.Status == warden.SubscriptionConfirmed {
				sub = existing
				return nil
			}
			// Pending: send the confirmation again, with the same token.
			existing.TokenExpires = now.Add(warden.SNSTokenLifetime)
			if _, err := tx.ExecContext(ctx, `UPDATE sns_subscriptions SET token_expires = ? WHERE arn = ?`,
				millis(existing.TokenExpires), existing.Arn); err != nil {
				return err
			}
			sub = existing
			return enqueueDelivery(ctx, tx, s, sub.Topic, warden.SNSSubscriptionConfirmation, warden.NewUUID(), sub.Arn, sub.Endpoint, sub.Token, now)
		}
		if err := requireBelow(ctx, tx, warden.MaxSNSSubscriptionsPerTopic, warden.ErrSNSSubscriptionsLimit,
			`SELECT COUNT(*) FROM sns_subscriptions WHERE account = ? AND region = ? AND topic = ? AND status <> ?`,
			s.Account, s.Region, sub.Topic, warden.SubscriptionDeleted); err != nil {
			return err
		}
		sub.Status = warden.SubscriptionPending
		sub.Owner = s.Account
		sub.CreatedAt = now
		sub.TokenExpires = now.Add(warden.SNSTokenLifetime)
		attrs, err := encodeAttrs(sub.Attributes)
		if err != nil {
			return err
		}
		if found {
			// A deleted subscription of the same endpoint starts over; its
			// UnsubscribeConfirmation, if still undelivered, is moot.
			if _, err := tx.ExecContext(ctx, `DELETE FROM sns_deliveries WHERE subscription_arn = ? AND status = 'pending'`,
				existing.Arn); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE sns_subscriptions SET arn = ?, owner = ?, status = ?, token = ?, token_expires = ?,
				auth_unsubscribe = 0, attributes = ?, created_at = ? WHERE arn = ?`,
				sub.Arn, sub.Owner, sub.Status, sub.Token, millis(sub.TokenExpires), attrs, millis(now), existing.Arn)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO sns_subscriptions (account, region, topic, arn, protocol, endpoint, owner, status,
				token, token_expires, auth_unsubscribe, attributes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
				s.Account, s.Region, sub.Topic, sub.Arn, sub.Protocol, sub.Endpoint, sub.Owner, sub.Status,
				sub.Token, millis(sub.TokenExpires), attrs, millis(now))
		}
		if err != nil {
			return err
		}
		if err := enqueueDelivery(ctx, tx, s, sub.Topic, warden.SNSSubscriptionConfirmation, warden.NewUUID(), sub.Arn, sub.Endpoint, sub.Token, now); err != nil {
			return err
		}
		return logChange(ctx, tx, s, sub.Arn, "Subscribe", nil,
			// Masked: the change log is kept and shown long after, and a
			// password has no place in it.
			map[string]any{"TopicArn": s.SNSARN(sub.Topic), "Protocol": sub.Protocol, "Endpoint": warden.MaskEndpointPassword(sub.Endpoint),
				"Status": sub.Status}, now)
	})
	return sub, wrap(err, "subscribe")
}

// ConfirmSubscription confirms the subscription whose token is token.
func (db *DB) ConfirmSubscription(ctx context.Context, s warden.Scope, topic, token string, authenticateOnUnsubscribe bool, now time.Time) (warden.Subscription, error) {
	var sub warden.Subscription
	err := db.inTx(ctx, func(tx writeTx) error {
		if err := topicExists(ctx, tx, s, topic); err != nil {
			return err
		}
		var err error
		sub, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM sns_subscriptions
			WHERE token = ? AND account = ? AND region = ? AND topic = ?`, token, s.Account, s.Region, topic))
		if errors.Is(err, sql.ErrNoRows) {
			return warden.SNSInvalidParameter("Token")
		}
		if err != nil {
			return err
		}
		if sub.Status == warden.SubscriptionConfirmed {
			if authenticateOnUnsubscribe && !sub.AuthenticateOnUnsubscribe {
				sub.AuthenticateOnUnsubscribe = true
				_, err := tx.ExecContext(ctx, `UPDATE sns_subscriptions SET auth_unsubscribe = 1 WHERE arn = ?`, sub.Arn)
				return err
			}
			return nil
		}
		if now.After(sub.TokenExpires) {
			return warden.SNSInvalidParameter("Token Reason: The token has expired")
		}
		before := sub.Status
		sub.Status = warden.SubscriptionConfirmed
		sub.AuthenticateOnUnsubscribe = authenticateOnUnsubscribe
		if _, err := tx.ExecContext(ctx, `UPDATE sns_subscriptions SET status = ?, auth_unsubscribe = ? WHERE arn = ?`,
			sub.Status, boolInt(authenticateOnUnsubscribe), sub.Arn); err != nil {
			return err
		}
		return logChange(ctx, tx, s, sub.Arn, "ConfirmSubscription", map[string]string{"Status": before},
			map[string]string{"Status": sub.Status}, now)
	})
	return sub, wrap(err, "confirm subscription")
}

// Unsubscribe deletes a subscription.
func (db *DB) Unsubscribe(ctx context.Context, s warden.Scope, arn, newToken string, public bool, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		sub, err := scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM sns_subscriptions
			WHERE arn = ? AND account = ? AND region = ?`, arn, s.Account, s.Region))
		if errors.Is(err, sql.ErrNoRows) || err == nil && sub.Status == warden.SubscriptionDeleted {
			return warden.SNSSubscriptionNotFound()
		}
		if err != nil {
			return err
		}
		if public && sub.AuthenticateOnUnsubscribe {
			return warden.Errorf(warden.CodeSNSAuthorizationError,
				"This subscription was confirmed with AuthenticateOnUnsubscribe; unsubscribe with a signed request.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sns_deliveries WHERE subscription_arn = ? AND status = 'pending'`, arn); err != nil {
			return err
		}
		if sub.Status == warden.SubscriptionPending {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sns_subscriptions WHERE arn = ?`, arn); err != nil {
				return err
			}
		} else {
			if _, err := tx.ExecContext(ctx, `UPDATE sns_subscriptions SET status = ?, token = ?, token_expires = ? WHERE arn = ?`,
				warden.SubscriptionDeleted, newToken, millis(now.Add(warden.SNSTokenLifetime)), arn); err != nil {
				return err
			}
			if err := enqueueDelivery(ctx, tx, s, sub.Topic, warden.SNSUnsubscribeConfirmation, warden.NewUUID(), arn, sub.Endpoint, newToken, now); err != nil {
				return err
			}
		}
		return logChange(ctx, tx, s, arn, "Unsubscribe", map[string]string{"Status": sub.Status}, nil, now)
	}), "unsubscribe")
}

// Subscriptions lists subscriptions oldest first, leaving deleted ones out.
func (db *DB) Subscriptions(ctx context.Context, s warden.Scope, topic string, p warden.Page) ([]warden.Subscription, string, error) {
	after, _, _, err := seqCursor(p.After, true, warden.SNSInvalidParameter("NextToken"))
	if err != nil {
		return nil, "", wrap(err, "subscriptions")
	}
	if topic != "" {
		if err := topicExists(ctx, db.read, s, topic); err != nil {
			return nil, "", wrap(err, "subscriptions")
		}
	}
	query := `SELECT seq, ` + subscriptionColumns + ` FROM sns_subscriptions WHERE account = ? AND region = ? AND seq > ? AND status <> ?`
	args := []any{s.Account, s.Region, after, warden.SubscriptionDeleted}
	query, args = andEq(query, args, "topic", topic)
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, p.Limit+1)
	out, next, err := seqPage(ctx, db.read, p.Limit, query, args, func(r *sql.Rows) (sub warden.Subscription, seq int64, err error) {
		sub, err = scanSubscription(rowScanFunc(func(dest ...any) error { return r.Scan(append([]any{&seq}, dest...)...) }))
		return sub, seq, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("subscriptions: %w", err)
	}
	return out, next, nil
}

type rowScanFunc func(dest ...any) error

func (f rowScanFunc) Scan(dest ...any) error { return f(dest...) }

// Publish stores a message and its deliveries.
func (db *DB) Publish(ctx context.Context, s warden.Scope, m warden.SNSMessage, now time.Time) (string, error) {
	var id string
	err := db.inTx(ctx, func(tx writeTx) error {
		var err error
		id, err = enqueuePublish(ctx, tx, s, m, now)
		return err
	})
	return id, wrap(err, "publish")
}

// EnqueuePublishTx publishes a message to the topic topicArn inside the
// caller's transaction tx (the mitigation engine's, so that the execution
// and its message commit together): it stores the message among the topic's
// recent ones and writes one outbox row per confirmed subscription, which a
// deliverer then sends at least once with the returned MessageId. An unknown
// topic, or one outside scope s, is a *warden.Error with code NotFound; an
// invalid message one with code InvalidParameter. The deliverer polls for new
// rows; call its Notify after the commit to have them sent at once.
func EnqueuePublishTx(ctx context.Context, tx writeTx, s warden.Scope, topicArn, subject, message string, now time.Time) (messageID string, err error) {
	scope, name, ok := warden.ParseTopicARN(topicArn)
	if !ok {
		return "", warden.SNSInvalidParameter("TopicArn")
	}
	if scope != s {
		return "", warden.SNSTopicNotFound()
	}
	m := warden.SNSMessage{Topic: name, Subject: subject, Message: message}
	if err := warden.ValidatePublish(&m); err != nil {
		return "", err
	}
	return enqueuePublish(ctx, tx, s, m, now)
}

func enqueuePublish(ctx context.Context, tx writeTx, s warden.Scope, m warden.SNSMessage, now time.Time) (string, error) {
	if err := topicExists(ctx, tx, s, m.Topic); err != nil {
		return "", err
	}
	id := warden.NewUUID()
	attrs := ""
	if len(m.Attributes) > 0 {
		b, err := json.Marshal(m.Attributes)
		if err != nil {
			return "", err
		}
		attrs = string(b)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO sns_deliveries (account, region, topic, kind, message_id, subscription_arn, endpoint, token,
			status, attempt, next_at, lease_owner, lease_expires, last_error, created_at)
		SELECT account, region, topic, ?, ?, arn, endpoint, '', 'pending', 0, ?, '', 0, '', ?
		FROM sns_subscriptions WHERE account = ? AND region = ? AND topic = ? AND status = ?
		ON CONFLICT (message_id, subscription_arn) DO NOTHING`,
		warden.SNSNotification, id, millis(now), millis(now), s.Account, s.Region, m.Topic, warden.SubscriptionConfirmed)
	if err != nil {
		return "", err
	}
	fanout, err := res.RowsAffected()
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sns_messages (id, account, region, topic, subject, message, structure, attributes, fanout, published_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, s.Account, s.Region, m.Topic, m.Subject, m.Message, m.Structure, attrs, fanout, millis(now)); err != nil {
		return "", err
	}
	// The message that just left the ring of the last MaxSNSRecentMessages
	// goes now unless deliveries still need it; those are removed once
	// delivered (pruneMessages).
	var old int64
	err = tx.QueryRowContext(ctx, `SELECT seq FROM sns_messages WHERE account = ? AND region = ? AND topic = ?
		ORDER BY seq DESC LIMIT 1 OFFSET ?`, s.Account, s.Region, m.Topic, warden.MaxSNSRecentMessages).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return "", err
	default:
		if _, err := tx.ExecContext(ctx, `DELETE FROM sns_messages WHERE seq = ?
			AND NOT EXISTS (SELECT 1 FROM sns_deliveries d WHERE d.message_id = sns_messages.id)`, old); err != nil {
			return "", err
		}
	}
	return id, nil
}

// pruneMessages removes the messages ids once no delivery refers to them
// and they are no longer among their topic's recent ones.
func pruneMessages(ctx context.Context, tx writeTx, ids []string) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sns_messages WHERE id = ?
			AND NOT EXISTS (SELECT 1 FROM sns_deliveries d WHERE d.message_id = sns_messages.id)
			AND seq <= (SELECT r.seq FROM sns_messages r WHERE r.account = sns_messages.account AND r.region = sns_messages.region
				AND r.topic = sns_messages.topic ORDER BY r.seq DESC LIMIT 1 OFFSET ?)`, id, warden.MaxSNSRecentMessages); err != nil {
			return err
		}
	}
	return nil
}

// RecentSNSMessages lists the topic's last messages, oldest first.
func (db *DB) RecentSNSMessages(ctx context.Context, s warden.Scope, topic string, afterSeq int64, limit int) ([]warden.SNSMessage, error) {
	if err := topicExists(ctx, db.read, s, topic); err != nil {
		return nil, wrap(err, "recent SNS messages")
	}
	if limit <= 0 || limit > warden.MaxSNSRecentMessages {
		limit = warden.MaxSNSRecentMessages
	}
	out, err := queryAll(ctx, db.read, func(r rowScanner) (warden.SNSMessage, error) {
		m := warden.SNSMessage{Topic: topic}
		var attrs string
		var published int64
		if err := r.Scan(&m.Seq, &m.ID, &m.Subject, &m.Message, &m.Structure, &attrs, &m.Fanout, &published, &m.Pending, &m.Failed); err != nil {
			return m, err
		}
		m.PublishedAt = fromMillis(published)
		if attrs != "" {
			if err := json.Unmarshal([]byte(attrs), &m.Attributes); err != nil {
				return m, fmt.Errorf("stored attributes of message %s: %w", m.ID, err)
			}
		}
		return m, nil
	}, `SELECT m.seq, m.id, m.subject, m.message, m.structure, m.attributes, m.fanout, m.published_at,
			(SELECT COUNT(*) FROM sns_deliveries d WHERE d.message_id = m.id AND d.status = 'pending'),
			(SELECT COUNT(*) FROM sns_deliveries d WHERE d.message_id = m.id AND d.status = 'failed')
		FROM (SELECT * FROM sns_messages WHERE account = ? AND region = ? AND topic = ? AND seq > ? ORDER BY seq DESC LIMIT ?) m
		ORDER BY m.seq`, s.Account, s.Region, topic, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of topic %s: %w", topic, err)
	}
	return out, nil
}

const deliveryColumns = `d.seq, d.account, d.region, d.topic, d.kind, d.message_id, d.subscription_arn, d.endpoint, d.token,
	d.status, d.attempt, d.lease_owner, d.next_at, d.last_error, d.created_at`

func scanDelivery(r rowScanner, extra ...any) (warden.SNSDelivery, error) {
	var d warden.SNSDelivery
	var next, created int64
	dest := append([]any{&d.Seq, &d.Scope.Account, &d.Scope.Region, &d.Topic, &d.Kind, &d.MessageID, &d.SubscriptionArn,
		&d.Endpoint, &d.Token, &d.Status, &d.Attempt, &d.LeaseOwner, &next, &d.LastError, &created}, extra...)
	if err := r.Scan(dest...); err != nil {
		return d, err
	}
	d.NextAttempt, d.CreatedAt = fromMillis(next), fromMillis(created)
	return d, nil
}

// claimSQL leases due deliveries. Its cost does not grow with the backlog:
// subs walks the distinct subscriptions with pending rows through the index
// (a loose index scan: one index seek per subscription), due takes at most
// perSubscription of the oldest due rows of each through the index, and busy
// counts only the rows leased now. A subscription gets at most
// perSubscription leased rows at a time, counting every owner's, so a slow
// one cannot take the others' turn however long its backlog is.
const claimSQL = `WITH RECURSIVE subs(arn) AS (
		SELECT (SELECT MIN(subscription_arn) FROM sns_deliveries WHERE status = 'pending')
		UNION ALL
		SELECT (SELECT MIN(subscription_arn) FROM sns_deliveries WHERE status = 'pending' AND subscription_arn > subs.arn)
		FROM subs WHERE subs.arn IS NOT NULL
	), due AS (
		SELECT x.seq, x.subscription_arn, x.next_at,
			ROW_NUMBER() OVER (PARTITION BY x.subscription_arn ORDER BY x.next_at, x.seq) AS rn
		FROM subs JOIN sns_deliveries x ON x.seq IN (
			SELECT y.seq FROM sns_deliveries y
			WHERE y.subscription_arn = subs.arn AND y.status = 'pending' AND y.next_at <= ? AND y.lease_expires <= ?
			ORDER BY y.next_at, y.seq LIMIT ?)
	), busy AS (
		SELECT subscription_arn, COUNT(*) AS n FROM sns_deliveries
		WHERE status = 'pending' AND lease_expires > ? GROUP BY subscription_arn
	)
	UPDATE sns_deliveries SET lease_owner = ?, lease_expires = ?, attempt = attempt + 1
	WHERE seq IN (
		SELECT due.seq FROM due LEFT JOIN busy ON busy.subscription_arn = due.subscription_arn
		WHERE due.rn + COALESCE(busy.n, 0) <= ?
		ORDER BY due.next_at, due.seq LIMIT ?)
	-- Checked again on the row itself: a concurrent claimer (PostgreSQL, READ
	-- COMMITTED) that leased it first makes this one skip it.
	AND status = 'pending' AND lease_expires <= ?
	RETURNING seq`

// ClaimSNSDeliveries leases due deliveries, at most perSubscription leased
// per subscription at a time. On SQLite the single writer serialises
// claims; on PostgreSQL they run at READ COMMITTED, where a claimer that
// picked rows another node leased meanwhile waits for it and then skips
// them (SKIP LOCKED cannot lock rows picked through window functions).
func (db *DB) ClaimSNSDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, perSubscription, limit int) ([]warden.SNSDelivery, error) {
	var out []warden.SNSDelivery
	err := db.inClaimTx(ctx, func(tx writeTx) error {
		out = nil
		n := millis(now)
		seqs, err := queryAll(ctx, tx, func(r rowScanner) (any, error) {
			var seq int64
			err := r.Scan(&seq)
			return seq, err
		}, claimSQL, n, n, perSubscription, n, owner, millis(now.Add(lease)), perSubscription, limit, n)
		if err != nil {
			return err
		}
		if len(seqs) == 0 {
			return nil
		}
		out, err = queryAll(ctx, tx, func(r rowScanner) (warden.SNSDelivery, error) {
			var subject, message, structure, msgAttrs, topicAttrs, subAttrs string
			d, err := scanDelivery(r, &subject, &message, &structure, &msgAttrs, &topicAttrs, &subAttrs)
			if err != nil {
				return d, err
			}
			d.Subject, d.Message, d.Structure = subject, message, structure
			if msgAttrs != "" {
				if err := json.Unmarshal([]byte(msgAttrs), &d.MessageAttributes); err != nil {
					return d, fmt.Errorf("stored attributes of message %s: %w", d.MessageID, err)
				}
			}
			if d.TopicAttributes, err = decodeAttrs(topicAttrs); err != nil {
				return d, err
			}
			d.SubscriptionAttributes, err = decodeAttrs(subAttrs)
			return d, err
		}, `SELECT `+deliveryColumns+`,
				COALESCE(m.subject, ''), COALESCE(m.message, ''), COALESCE(m.structure, ''), COALESCE(m.attributes, ''),
				COALESCE(t.attributes, ''), COALESCE(s.attributes, '')
			FROM sns_deliveries d
			LEFT JOIN sns_messages m ON m.id = d.message_id
			LEFT JOIN sns_topics t ON t.account = d.account AND t.region = d.region AND t.name = d.topic
			LEFT JOIN sns_subscriptions s ON s.arn = d.subscription_arn
			WHERE d.seq IN (?`+strings.Repeat(", ?", len(seqs)-1)+`) ORDER BY d.next_at, d.seq`, seqs...)
		return err
	})
	return out, wrap(err, "claim SNS deliveries")
}

// FinishSNSDeliveries records the outcomes of claimed deliveries.
func (db *DB) FinishSNSDeliveries(ctx context.Context, outcomes []warden.SNSOutcome, now time.Time) error {
	if len(outcomes) == 0 {
		return nil
	}
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		var delivered []string
		for _, o := range outcomes {
			var err error
			switch {
			case o.Delivered:
				var id string
				err = tx.QueryRowContext(ctx, `DELETE FROM sns_deliveries WHERE seq = ? AND lease_owner = ? AND attempt = ? RETURNING message_id`,
					o.Seq, o.LeaseOwner, o.Attempt).Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					err = nil
				} else if err == nil {
					delivered = append(delivered, id)
				}
			case o.RetryAt.IsZero():
				_, err = tx.ExecContext(ctx, `UPDATE sns_deliveries SET status = 'failed', lease_owner = '', lease_expires = 0, last_error = ?
					WHERE seq = ? AND lease_owner = ? AND attempt = ?`, o.Error, o.Seq, o.LeaseOwner, o.Attempt)
			default:
				_, err = tx.ExecContext(ctx, `UPDATE sns_deliveries SET next_at = ?, lease_owner = '', lease_expires = 0, last_error = ?
					WHERE seq = ? AND lease_owner = ? AND attempt = ?`, millis(o.RetryAt), o.Error, o.Seq, o.LeaseOwner, o.Attempt)
			}
			if err != nil {
				return err
			}
		}
		return pruneMessages(ctx, tx, delivered)
	}), "finish SNS deliveries")
}

// SNSDeliveries lists outbox rows oldest first.
func (db *DB) SNSDeliveries(ctx context.Context, f warden.SNSDeliveryFilter) ([]warden.SNSDelivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM sns_deliveries d WHERE 1 = 1`
	var args []any
	if f.Scope != nil {
		query += ` AND d.account = ? AND d.region = ?`
		args = append(args, f.Scope.Account, f.Scope.Region)
	}
	query, args = andEq(query, args, "d.topic", f.Topic)
	query, args = andEq(query, args, "d.status", f.Status)
	if len(f.Kinds) > 0 {
		query += ` AND d.kind IN (?` + strings.Repeat(", ?", len(f.Kinds)-1) + `)`
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	query += ` ORDER BY d.seq`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := queryAll(ctx, db.read, func(r rowScanner) (warden.SNSDelivery, error) { return scanDelivery(r) }, query, args...)
	if err != nil {
		return nil, fmt.Errorf("SNS deliveries: %w", err)
	}
	return out, nil
}

const snsSigningKeyName = "sns-signing-key"

// SNSSigningKey returns the stored signing key, generating it only when
// there is none: an RSA key takes long enough to make that worth a read.
func (db *DB) SNSSigningKey(ctx context.Context, generate func() ([]byte, error)) ([]byte, error) {
	return db.serverSecret(ctx, snsSigningKeyName, generate)
}
