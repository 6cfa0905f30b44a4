package api

import (
	"github.com/warden-iot/warden"
)

func (s *Server) SetV2LoggingLevel(c *call) (any, error) {
	var in struct {
		LogTarget struct {
			Type string  `json:"targetType"`
			Name *string `json:"targetName"`
		} `json:"logTarget"`
		LogLevel string `json:"logLevel"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	t := warden.LogTarget{Type: in.LogTarget.Type}
	if in.LogTarget.Name != nil {
		t.Name = *in.LogTarget.Name
	}
	if err := warden.ValidateLogTargetName("logTarget.targetName", t, in.LogTarget.Name != nil); err != nil {
		return nil, err
	}
	l := warden.LogTargetLevel{Target: t.Canonical(), Level: in.LogLevel}
	return nil, s.store.SetV2LoggingLevel(c.ctx, c.scope, l, s.now().UTC())
}

type logTargetJSON struct {
	TargetType string `json:"targetType"`
	TargetName string `json:"targetName,omitempty"`
}

func (s *Server) ListV2LoggingLevels(c *call) (any, error) {
	type config struct {
		LogTarget logTargetJSON `json:"logTarget"`
		LogLevel  string        `json:"logLevel"`
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.LogTargetLevel, string, error) {
		return s.store.V2LoggingLevels(c.ctx, c.scope, c.input.String("targetType"), p)
	}, func(l *warden.LogTargetLevel) config {
		return config{logTargetJSON{l.Target.Type, l.Target.Name}, l.Level}
	})
}

func (s *Server) DeleteV2LoggingLevel(c *call) (any, error) {
	// The model requires both members, DEFAULT's name too.
	t := warden.LogTarget{Type: c.input.String("targetType"), Name: c.input.String("targetName")}
	if err := warden.ValidateLogTargetName("targetName", t, true); err != nil {
		return nil, err
	}
	return nil, s.store.DeleteV2LoggingLevel(c.ctx, c.scope, t.Canonical(), s.now().UTC())
}
