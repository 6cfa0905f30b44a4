package api

import (
	"net/netip"

	"github.com/warden-iot/warden"
)

// checkLogTargetName checks the name of a log target, member, which the
// model leaves unconstrained (and the tests hold Warden to): every type but
// DEFAULT needs one, of 1-128 characters (what a client id may have), a
// source IP's is an IP address and a thing group's a group name.
func checkLogTargetName(member string, t warden.LogTarget, nameSet bool) error {
	var v warden.Validator
	switch {
	case t.Type == warden.LogTargetDefault:
	case !nameSet:
		v.Required(member, false)
	case t.Type == warden.LogTargetThingGroup:
		warden.ValidateThingName(&v, member, t.Name)
	case t.Type == warden.LogTargetSourceIP:
		if _, err := netip.ParseAddr(t.Name); err != nil {
			v.Fail(member, t.Name, "Member must be an IPv4 or IPv6 address")
		}
	default:
		v.Length(member, t.Name, 1, 128)
	}
	return v.Err()
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
	if err := checkLogTargetName("logTarget.targetName", t, in.LogTarget.Name != nil); err != nil {
		return nil, err
	}
	l := warden.LogTargetLevel{Target: canonicalLogTarget(t), Level: in.LogLevel}
	return nil, s.store.SetV2LoggingLevel(c.ctx, c.scope, l, s.now().UTC())
}

type logTargetJSON struct {
	TargetType string `json:"targetType"`
	TargetName string `json:"targetName,omitempty"`
}

func (s *Server) ListV2LoggingLevels(c *call) (any, error) {
	var in logTargetJSON
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	levels, next, err := s.store.V2LoggingLevels(c.ctx, c.scope, in.TargetType, p)
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
	var in logTargetJSON // the model requires both members, DEFAULT's name too
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	t := warden.LogTarget{Type: in.TargetType, Name: in.TargetName}
	if err := checkLogTargetName("targetName", t, true); err != nil {
		return nil, err
	}
	return nil, s.store.DeleteV2LoggingLevel(c.ctx, c.scope, canonicalLogTarget(t), s.now().UTC())
}
