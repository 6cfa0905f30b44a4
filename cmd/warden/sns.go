package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

type snsCmd struct {
	Tail snsTailCmd `cmd:"" help:"Print the last messages published to an SNS topic."`
}

type snsTailCmd struct {
	readStoreFlags
	TopicArn string        `arg:"" name:"topic-arn" help:"The topic, arn:aws:sns:<region>:<account>:<name>."`
	Limit    int           `short:"n" default:"20" help:"How many of the last messages to print (at most 100 are kept per topic)."`
	Follow   bool          `short:"f" help:"Keep printing messages as they are published, until interrupted."`
	Interval time.Duration `default:"1s" help:"How often --follow looks for new messages."`
	JSON     bool          `name:"json" help:"Print one JSON object per message."`
}

// Run prints the topic's last messages, oldest first, with how their
// deliveries went.
func (c *snsTailCmd) Run(ctx context.Context) error {
	scope, name, ok := warden.ParseTopicARN(c.TopicArn)
	if !ok {
		return fmt.Errorf("%q is not a topic ARN (arn:aws:sns:<region>:<account>:<name>)", c.TopicArn)
	}
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	msgs, err := store.RecentSNSMessages(ctx, scope, name, 0, c.Limit)
	if err != nil {
		return err
	}
	var last int64
	for {
		for _, m := range msgs {
			if err := c.print(os.Stdout, &m); err != nil {
				return err
			}
			last = m.Seq
		}
		if !c.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.Interval):
		}
		if msgs, err = store.RecentSNSMessages(ctx, scope, name, last, warden.MaxSNSRecentMessages); err != nil {
			return err
		}
	}
}

func (c *snsTailCmd) print(w io.Writer, m *warden.SNSMessage) error {
	delivered := m.Fanout - m.Pending - m.Failed
	if c.JSON {
		return json.NewEncoder(w).Encode(map[string]any{
			"MessageId": m.ID, "TopicArn": c.TopicArn, "Timestamp": m.PublishedAt.Format("2006-01-02T15:04:05.000Z"),
			"Subject": m.Subject, "Message": m.Message, "MessageStructure": m.Structure,
			"Subscribers": m.Fanout, "Delivered": delivered, "Pending": m.Pending, "Failed": m.Failed,
		})
	}
	subject := ""
	if m.Subject != "" {
		subject = fmt.Sprintf("  subject=%q", m.Subject)
	}
	_, err := fmt.Fprintf(w, "%s  %s%s  delivered=%d/%d pending=%d failed=%d\n  %s\n",
		m.PublishedAt.Format("2006-01-02T15:04:05.000Z"), m.ID, subject, delivered, m.Fanout, m.Pending, m.Failed,
		strings.ReplaceAll(m.Message, "\n", "\n  "))
	return err
}
