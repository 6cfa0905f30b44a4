package audit

import (
	"fmt"
	"strings"

	"github.com/warden-iot/warden"
)

// dataPlaneActions are the IoT data-plane actions a device policy grants,
// with the resource type each applies to.
var dataPlaneActions = []struct{ action, resourceType string }{
	{"iot:Connect", "client"},
	{"iot:Publish", "topic"},
	{"iot:RetainPublish", "topic"},
	{"iot:Receive", "topic"},
	{"iot:Subscribe", "topicfilter"},
	{"iot:GetRetainedMessage", "topic"},
	{"iot:GetThingShadow", "thing"},
	{"iot:UpdateThingShadow", "thing"},
	{"iot:DeleteThingShadow", "thing"},
	{"iot:DescribeJobExecution", "thing"},
	{"iot:GetPendingJobExecutions", "thing"},
	{"iot:StartNextPendingJobExecution", "thing"},
	{"iot:UpdateJobExecution", "thing"},
}

// probeName is a resource name no policy written for real devices names:
// a statement that matches it matches arbitrary resources of its type.
const probeName = "warden-audit-probe-7c2f1e/x"

// allows reports whether the document grants action on resource: an Allow
// statement matches it and no Deny statement does. Conditions are not
// evaluated (they cannot be without a request), so a conditional grant
// counts as a grant.
func allows(doc *warden.PolicyDocument, action, resource string) bool {
	allowed := false
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if !st.MatchesAction(action) || !st.MatchesResource(resource) {
			continue
		}
		if st.Effect == warden.EffectDeny {
			return false
		}
		allowed = true
	}
	return allowed
}

// PolicyOverlyPermissive checks a policy document for broad access to
// data-plane actions: an action granted on any resource of its type (the
// resource "*", "...:topic/*", a NotResource that leaves everything, ...).
// Resources scoped by a policy variable such as
// ${iot:Connection.Thing.ThingName} are not broad.
func PolicyOverlyPermissive(doc *warden.PolicyDocument, s warden.Scope) (Verdict, bool) {
	var broad []string
	for _, a := range dataPlaneActions {
		if allows(doc, a.action, s.IoTARN(a.resourceType+"/"+probeName)) {
			broad = append(broad, a.action)
		}
	}
	if len(broad) == 0 {
		return Verdict{}, false
	}
	return Verdict{Code: ReasonBroadDataPlaneAccess,
		Reason: "Policy allows broad access to IoT data plane actions: [" + strings.Join(broad, ", ") + "]."}, true
}

// PolicyMisconfigured checks a policy document for the two mistakes of
// IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK: MQTT wildcards (+, #) in a
// Deny statement, which policies treat as literal characters, and a Deny of
// a topic filter that an allowed wildcard subscription (a/# or a/+/c)
// covers while its messages may still be received.
func PolicyMisconfigured(doc *warden.PolicyDocument, s warden.Scope) (Verdict, bool) {
	var findings []string
	code := ""
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if st.Effect != warden.EffectDeny {
			continue
		}
		if w := st.MQTTWildcardResources(); len(w) > 0 {
			if code == "" {
				code = ReasonMQTTWildcardsInDeny
			}
			findings = append(findings, fmt.Sprintf(
				"statement %d denies %s, but IoT policies treat the MQTT wildcards + and # as literal characters, so it denies only that literal name",
				i+1, strings.Join(w, ", ")))
		}
	}
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if st.Effect != warden.EffectDeny || !st.MatchesAction("iot:Subscribe") {
			continue
		}
		for _, r := range st.Resource {
			prefix, filter, ok := topicFilterResource(r, s)
			if !ok {
				continue
			}
			for _, cover := range coveringFilters(filter) {
				if !allows(doc, "iot:Subscribe", prefix+"topicfilter/"+cover) {
					continue
				}
				if !allows(doc, "iot:Receive", prefix+"topic/"+filter) {
					break
				}
				if code == "" {
					code = ReasonDenyBypassedByWildcard
				}
				findings = append(findings, fmt.Sprintf(
					"statement %d denies subscribing to the topic filter %s, but the policy allows subscribing to %s, which covers it, and receiving its messages",
					i+1, filter, cover))
				break
			}
		}
	}
	if code == "" {
		return Verdict{}, false
	}
	return Verdict{Code: code, Reason: "Policy is potentially misconfigured: " + strings.Join(findings, "; ") + "."}, true
}

// topicFilterResource splits a topicfilter resource that names one literal
// topic filter (no policy or MQTT wildcards, no policy variables) into the
// ARN prefix up to the resource type (with the scope's region and account
// for wildcards there) and the filter.
func topicFilterResource(r string, s warden.Scope) (prefix, filter string, ok bool) {
	parts := strings.SplitN(r, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return "", "", false
	}
	kind, id, found := strings.Cut(parts[5], "/")
	if !found || kind != "topicfilter" || id == "" || strings.ContainsAny(id, "*?+#") || strings.Contains(id, "${") {
		return "", "", false
	}
	region, account := parts[3], parts[4]
	if strings.ContainsAny(region, "*?") || region == "" {
		region = s.Region
	}
	if strings.ContainsAny(account, "*?") || account == "" {
		account = s.Account
	}
	return "arn:" + parts[1] + ":iot:" + region + ":" + account + ":", id, true
}

// coveringFilters are the MQTT topic filters with wildcards that match the
// literal filter f: "#", every "level/.../#" prefix, and f with one level
// replaced by "+". Each is cut from f, so a filter of n levels costs O(n)
// per cover, not O(n) slice copies.
func coveringFilters(f string) []string {
	// starts[i] is where level i begins; level i ends at starts[i+1]-1.
	starts := []int{0}
	for i := 0; i < len(f); i++ {
		if f[i] == '/' {
			starts = append(starts, i+1)
		}
	}
	starts = append(starts, len(f)+1)
	levels := len(starts) - 1
	out := make([]string, 0, 2*levels)
	out = append(out, "#")
	for i := 1; i < levels; i++ {
		out = append(out, f[:starts[i]]+"#")
	}
	for i := range levels {
		out = append(out, f[:starts[i]]+"+"+f[min(starts[i+1]-1, len(f)):])
	}
	return out
}
