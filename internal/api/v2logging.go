package api

import (
	"net/netip"

	"github.com/warden-iot/warden"
)

// validateLogTarget checks a LogTarget whose members are named prefix+"targetType"
// and prefix+"targetName". The model constrains only the type; Warden also
// requires a name for every type but DEFAULT (1-128 characters, what a client
// id may have), a source IP to be an IP address and a thing group name to be
// one.
func validateLogTarget(v *warden.Validator, prefix string, t warden.LogTarget, typeSet, nameSet bool) {
	v.Required(prefix+"targetType", typeSet)
	if !typeSet {
		return
	}
	v.Enum(prefix+"targetType", t.Type, warden.LogTargetTypes...)
	member := prefix + "targetName"
	switch t.Type {
	case warden.LogTargetDefault:
	case warden.LogTargetThingGroup:
		v.Required(member, nameSet)
		if nameSet {
			warden.ValidateThingName(v, member, t.Name)
		}
	case warden.LogTargetSourceIP:
		v.Required(member, nameSet)
		if _, err := netip.ParseAddr(t.Name); nameSet && err != nil {
			v.Fail(member, t.Name, "Member must be an IPv4 or IPv6 address")
		}
	default:
		v.Required(member, nameSet)
		if nameSet {
			v.Length(member, t.Name, 1, 128)
		}
	}
}

// canonicalLogTarget normalizes a target's name so that one target has one
// row: a source IP in its canonical text form, no name for DEFAULT.
func canonicalLogTarget(t warden.LogTarget) warden.LogTarget {
	switch t.Type {
	case warden.LogTargetDefault:
		t.Name = ""
	case warden.LogTargetSourceIP:
		if a, err := netip.ParseAddr(t.Name); err == nil {
			t.Name = a.Unmap().String()
		}
	}
	return t
}

func (s *Server) SetV2LoggingLevel(c *call) (any, error) {
	var in struct {
		LogTarget *struct {
			TargetType *string `json:"targetType"`
			TargetName *string `json:"targetName"`
		} `json:"logTarget"`
		LogLevel *string `json:"logLevel"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	var l warden.LogTargetLevel
	v.Required("logTarget", in.LogTarget != nil)
	if in.LogTarget != nil {
		if in.LogTarget.TargetType != nil {
			l.Target.Type = *in.LogTarget.TargetType
		}
		if in.LogTarget.TargetName != nil {
			l.Target.Name = *in.LogTarget.TargetName
		}
		validateLogTarget(&v, "logTarget.", l.Target, in.LogTarget.TargetType != nil, in.LogTarget.TargetName != nil)
	}
	v.Required("logLevel", in.LogLevel != nil)
	if in.LogLevel != nil {
		l.Level = *in.LogLevel
		v.Enum("logLevel", l.Level, warden.LogLevels...)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	l.Target = canonicalLogTarget(l.Target)
	return nil, s.store.SetV2LoggingLevel(c.ctx, c.scope, l, s.now().UTC())
}

type logTargetJSON struct {
	TargetType string `json:"targetType"`
	TargetName string `json:"targetName,omitempty"`
}

func (s *Server) ListV2LoggingLevels(c *call) (any, error) {
	const op = "ListV2LoggingLevels"
	targetType := c.r.URL.Query().Get("targetType")
	if targetType != "" {
		var v warden.Validator
		v.Enum("targetType", targetType, warden.LogTargetTypes...)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	levels, next, err := s.store.V2LoggingLevels(c.ctx, c.scope, targetType, p)
	if err != nil {
		return nil, err
	}
	type config struct {
		LogTarget logTargetJSON `json:"logTarget"`
		LogLevel  string        `json:"logLevel"`
	}
	out := struct {
		LogTargetConfigurations []config `json:"logTargetConfigurations"`
		NextToken               string   `json:"nextToken,omitempty"`
	}{LogTargetConfigurations: make([]config, 0, len(levels)), NextToken: c.nextPage(next)}
	for _, l := range levels {
		out.LogTargetConfigurations = append(out.LogTargetConfigurations, config{logTargetJSON{l.Target.Type, l.Target.Name}, l.Level})
	}
	return out, nil
}

func (s *Server) DeleteV2LoggingLevel(c *call) (any, error) {
	q := c.r.URL.Query()
	t := warden.LogTarget{Type: q.Get("targetType"), Name: q.Get("targetName")}
	var v warden.Validator
	// The model requires both members, DEFAULT's name too.
	validateLogTarget(&v, "", t, q.Has("targetType"), q.Has("targetName"))
	if t.Type == warden.LogTargetDefault {
		v.Required("targetName", q.Has("targetName"))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.DeleteV2LoggingLevel(c.ctx, c.scope, canonicalLogTarget(t), s.now().UTC())
}
