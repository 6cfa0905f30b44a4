package warden

import (
	"context"
	"net/netip"
	"time"
)

// Log target types of SetV2LoggingLevel, in the model's order.
const (
	LogTargetDefault     = "DEFAULT"
	LogTargetThingGroup  = "THING_GROUP"
	LogTargetClientID    = "CLIENT_ID"
	LogTargetSourceIP    = "SOURCE_IP"
	LogTargetPrincipalID = "PRINCIPAL_ID"
)

// LogTargetTypes is the LogTargetType enum in the model's order.
var LogTargetTypes = []string{LogTargetDefault, LogTargetThingGroup, LogTargetClientID, LogTargetSourceIP, LogTargetPrincipalID}

// Log levels, as the model spells them.
const (
	LogLevelDebug    = "DEBUG"
	LogLevelInfo     = "INFO"
	LogLevelError    = "ERROR"
	LogLevelWarn     = "WARN"
	LogLevelDisabled = "DISABLED"
)

// MaxV2LoggingLevels bounds the per-target levels of one account and region
// (LimitExceeded beyond it). AWS documents no number; UNCONFIRMED.
const MaxV2LoggingLevels = 1000

// LogTarget is what a V2 logging level applies to: a thing group, a client
// id, a source IP or a principal (certificate id).
type LogTarget struct {
	Type string
	Name string
}

// LogTargetLevel is one SetV2LoggingLevel setting.
type LogTargetLevel struct {
	Target LogTarget
	Level  string
}

// V2LoggingLevelARN is the change-log resource of one per-target level:
// arn:aws:iot:<region>:<account>:logging/v2/<targetType>/<targetName>. It
// lies under V2LoggingARN, so a reader of the change log finds every V2
// logging change of an account by that prefix.
func V2LoggingLevelARN(s Scope, t LogTarget) string {
	return V2LoggingARN(s) + "/" + t.Type + "/" + t.Name
}

// logLevelRank orders the levels by verbosity; DISABLED and unknown are 0.
func logLevelRank(level string) int {
	switch level {
	case LogLevelError:
		return 1
	case LogLevelWarn:
		return 2
	case LogLevelInfo:
		return 3
	case LogLevelDebug:
		return 4
	}
	return 0
}

// LogLevelAdmits reports whether a setting of level setting lets an entry of
// level entry through: the levels are cumulative, ERROR ⊂ WARN ⊂ INFO ⊂
// DEBUG, and DISABLED lets nothing through.
func LogLevelAdmits(setting, entry string) bool {
	s, e := logLevelRank(setting), logLevelRank(entry)
	return s > 0 && e > 0 && e <= s
}

// MoreVerboseLogLevel is the more verbose of two levels.
func MoreVerboseLogLevel(a, b string) string {
	if logLevelRank(b) > logLevelRank(a) {
		return b
	}
	return a
}

// V2LogEntry is one data-plane log entry as stored for `warden logs tail`:
// Entry is the AWS log-entry JSON document.
type V2LogEntry struct {
	Seq   int64
	Scope Scope
	At    time.Time
	Entry string
}

// V2LogFilter selects stored log entries, oldest first.
type V2LogFilter struct {
	Account  string // "": every account
	Region   string // "": every region
	AfterSeq int64
	Since    time.Time // zero: no lower bound on At
	Limit    int       // 0: no limit
}

// V2LoggingStore persists the per-target V2 logging levels and the
// data-plane log entries they let through.
type V2LoggingStore interface {
	// SetV2LoggingLevel sets (or replaces) the level of one target. A
	// THING_GROUP target must name an existing group (InvalidRequest);
	// beyond MaxV2LoggingLevels targets, LimitExceeded.
	SetV2LoggingLevel(ctx context.Context, s Scope, l LogTargetLevel, now time.Time) error
	// V2LoggingLevels lists the levels, of targetType only if not "": the
	// DEFAULT target (the options' default level, when set) first, then the
	// others in the order they were first set. NotConfigured before the
	// V2 logging options are set.
	V2LoggingLevels(ctx context.Context, s Scope, targetType string, p Page) (levels []LogTargetLevel, next string, err error)
	// DeleteV2LoggingLevel removes a target's level; a missing one is no error.
	DeleteV2LoggingLevel(ctx context.Context, s Scope, t LogTarget, now time.Time) error

	// AppendV2LogEntries stores entries (Seq is assigned) in one transaction.
	AppendV2LogEntries(ctx context.Context, entries []V2LogEntry) error
	// V2LogEntries lists stored entries by Seq.
	V2LogEntries(ctx context.Context, f V2LogFilter) ([]V2LogEntry, error)
	// PruneV2LogEntries removes entries older than before and, of each
	// account and region, all but the newest keep; it returns how many went.
	PruneV2LogEntries(ctx context.Context, before time.Time, keep int) (int64, error)

	// ChangeLogHead is the Seq of the newest change-log row (0 if none), from
	// which a reader of the change log starts.
	ChangeLogHead(ctx context.Context) (int64, error)
}

// ValidateLogTargetName checks the name of log target t, sent as member
// (nameSet false when absent), which the model leaves unconstrained: every
// type but DEFAULT needs one, of 1-128 characters (what a client id may
// have), a source IP's is an IP address and a thing group's a group name.
func ValidateLogTargetName(member string, t LogTarget, nameSet bool) error {
	var v Validator
	switch {
	case t.Type == LogTargetDefault:
	case !nameSet:
		v.Required(member, false)
	case t.Type == LogTargetThingGroup:
		ValidateThingName(&v, member, t.Name)
	case t.Type == LogTargetSourceIP:
		if _, err := netip.ParseAddr(t.Name); err != nil {
			v.Fail(member, t.Name, "Member must be an IPv4 or IPv6 address")
		}
	default:
		v.Length(member, t.Name, 1, 128)
	}
	return v.Err()
}

// Canonical is t with its name normalized so that one target has one row:
// a source IP in its canonical text form, no name for DEFAULT.
func (t LogTarget) Canonical() LogTarget {
	switch t.Type {
	case LogTargetDefault:
		t.Name = ""
	case LogTargetSourceIP:
		if a, err := netip.ParseAddr(t.Name); err == nil {
			t.Name = a.Unmap().String()
		}
	}
	return t
}
