package warden

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePolicyDocumentValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *PolicyDocument
	}{
		{
			name: "single statement object, string members",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}`,
			want: &PolicyDocument{Version: "2012-10-17", Statements: []PolicyStatement{
				{Effect: "Allow", Action: []string{"iot:Connect"}, Resource: []string{"*"}},
			}},
		},
		{
			name: "the AWS CLI example, lists, whitespace",
			doc: `{
			  "Version": "2012-10-17",
			  "Statement": [
			    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
			     "Resource": ["arn:aws:iot:us-west-2:123456789012:topic/topic_1", "arn:aws:iot:us-west-2:123456789012:topic/topic_2"]},
			    {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": ["arn:aws:iot:us-west-2:123456789012:topicfilter/topic_1"]},
			    {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": ["arn:aws:iot:us-west-2:123456789012:client/basicPubSub"]}
			  ]
			}`,
			want: &PolicyDocument{Version: "2012-10-17", Statements: []PolicyStatement{
				{Effect: "Allow", Action: []string{"iot:Publish", "iot:Receive"}, Resource: []string{
					"arn:aws:iot:us-west-2:123456789012:topic/topic_1", "arn:aws:iot:us-west-2:123456789012:topic/topic_2"}},
				{Effect: "Allow", Action: []string{"iot:Subscribe"}, Resource: []string{"arn:aws:iot:us-west-2:123456789012:topicfilter/topic_1"}},
				{Effect: "Allow", Action: []string{"iot:Connect"}, Resource: []string{"arn:aws:iot:us-west-2:123456789012:client/basicPubSub"}},
			}},
		},
		{
			name: "Id, Sid, NotAction, NotResource, Condition with string/number/bool/list values, 2008 version",
			doc: `{"Version":"2008-10-17","Id":"doc1","Statement":[{"Sid":"Deny1","Effect":"Deny","NotAction":["iot:Connect"],
				"NotResource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}",
				"Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"},"NumericLessThan":{"k":[1,2.5]},"BoolIfExists":{"b":false}}}]}`,
			want: &PolicyDocument{Version: "2008-10-17", ID: "doc1", Statements: []PolicyStatement{{
				Sid: "Deny1", Effect: "Deny", NotAction: []string{"iot:Connect"},
				NotResource: []string{"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
				Condition: map[string]map[string][]string{
					"Bool":            {"iot:Connection.Thing.IsAttached": {"true"}},
					"NumericLessThan": {"k": {"1", "2.5"}},
					"BoolIfExists":    {"b": {"false"}},
				},
			}}},
		},
		{
			name: "wildcard actions and the blank policy",
			doc:  BlankPolicyDocument,
			want: &PolicyDocument{Version: "2012-10-17", Statements: []PolicyStatement{
				{Effect: "Deny", Action: []string{"iot:*"}, Resource: []string{"*"}},
			}},
		},
		{
			name: "2048 characters excluding whitespace is the limit",
			doc:  padTo(2048, 5000),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicyDocument(tt.doc)
			if err != nil {
				t.Fatalf("ParsePolicyDocument: %v", err)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// padTo returns a valid document of exactly chars non-whitespace characters
// and spaces extra spaces.
func padTo(chars, spaces int) string {
	head := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/`
	tail := `"}}`
	return head + strings.Repeat("a", chars-len(head)-len(tail)) + tail + strings.Repeat(" ", spaces)
}

func TestParsePolicyDocumentMalformed(t *testing.T) {
	const ok = `"Effect":"Allow","Action":"iot:Connect","Resource":"*"`
	st := func(members string) string { return `{"Version":"2012-10-17","Statement":[{` + members + `}]}` }
	tests := []struct {
		name, doc, want string // want: a substring of the message
	}{
		{"empty", "", "empty"},
		{"only whitespace", " \n\t ", "empty"},
		{"too long", padTo(2049, 0), "2049 characters excluding whitespace; the maximum is 2048"},
		{"not JSON", "Version: 2012", "not valid JSON"},
		{"truncated", `{"Version":"2012-10-17","Statement":[`, "not valid JSON"},
		{"trailing data", `{"Version":"2012-10-17","Statement":{` + ok + `}} {}`, "more after the JSON value"},
		{"trailing comma", `{"Version":"2012-10-17","Statement":{` + ok + `},}`, "not valid JSON"},
		{"a list", `[{"Version":"2012-10-17"}]`, "must be a JSON object, not a list"},
		{"a string", `"policy"`, "must be a JSON object, not a string"},
		{"no Version", `{"Statement":{` + ok + `}}`, `no "Version"`},
		{"lower-case version key", `{"version":"2012-10-17","Statement":{` + ok + `}}`, `unknown element "version" (element names are case-sensitive: "Version")`},
		{"unknown Version", `{"Version":"2020-01-01","Statement":{` + ok + `}}`, `"Version" must be one of`},
		{"numeric Version", `{"Version":2012,"Statement":{` + ok + `}}`, `not 2012`},
		{"numeric Id", `{"Version":"2012-10-17","Id":1,"Statement":{` + ok + `}}`, `"Id" must be a string`},
		{"unknown top element", `{"Version":"2012-10-17","Statement":{` + ok + `},"Extra":1}`, `unknown element "Extra"`},
		{"duplicate top element", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":{` + ok + `}}`, `"Version" appears twice`},
		{"no Statement", `{"Version":"2012-10-17"}`, `no "Statement"`},
		{"empty Statement list", `{"Version":"2012-10-17","Statement":[]}`, `"Statement" must not be an empty list`},
		{"Statement a string", `{"Version":"2012-10-17","Statement":"allow all"}`, `"Statement" must be an object or a list of objects, not a string`},
		{"Statement list of strings", `{"Version":"2012-10-17","Statement":["x"]}`, `Statement[0] must be an object, not a string`},
		{"no Effect", st(`"Action":"iot:Connect","Resource":"*"`), `Statement[0] has no "Effect"`},
		{"lower-case Effect", st(`"Effect":"allow","Action":"iot:Connect","Resource":"*"`), `"Effect" must be "Allow" or "Deny", not "allow"`},
		{"boolean Effect", st(`"Effect":true,"Action":"iot:Connect","Resource":"*"`), `not true`},
		{"no Action", st(`"Effect":"Allow","Resource":"*"`), `no "Action" (or "NotAction")`},
		{"Action and NotAction", st(ok + `,"NotAction":"iot:Publish"`), `both "Action" and "NotAction"`},
		{"empty Action list", st(`"Effect":"Allow","Action":[],"Resource":"*"`), `"Action" must not be an empty list`},
		{"numeric Action", st(`"Effect":"Allow","Action":7,"Resource":"*"`), `must be a string or a list of strings, not a number`},
		{"number in Action list", st(`"Effect":"Allow","Action":["iot:Connect",7],"Resource":"*"`), `"Action"[1] must be a string, not a number`},
		{"Action without service", st(`"Effect":"Allow","Action":"Connect","Resource":"*"`), `"Connect" is not an action`},
		{"Action with empty name", st(`"Effect":"Allow","Action":"iot:","Resource":"*"`), `"iot:" is not an action`},
		{"Action with a space", st(`"Effect":"Allow","Action":"iot:Con nect","Resource":"*"`), `action name with characters`},
		{"Action with bad service", st(`"Effect":"Allow","Action":"i/ot:Connect","Resource":"*"`), `service prefix`},
		{"no Resource", st(`"Effect":"Allow","Action":"iot:Connect"`), `no "Resource" (or "NotResource")`},
		{"Resource and NotResource", st(ok + `,"NotResource":"*"`), `both "Resource" and "NotResource"`},
		{"Resource not an ARN", st(`"Effect":"Allow","Action":"iot:Connect","Resource":"topic/a"`), `"topic/a" is not a resource`},
		{"empty Resource string", st(`"Effect":"Allow","Action":"iot:Connect","Resource":""`), `"" is not a resource`},
		{"Resource object", st(`"Effect":"Allow","Action":"iot:Connect","Resource":{"a":1}`), `not an object`},
		{"null Resource", st(`"Effect":"Allow","Action":"iot:Connect","Resource":null`), `not null`},
		{"Principal", st(ok + `,"Principal":"*"`), `"Principal": IoT policies`},
		{"unknown statement element", st(ok + `,"Actions":"iot:*"`), `Statement[0] has the unknown element "Actions"`},
		{"duplicate statement element", st(ok + `,"Effect":"Deny"`), `"Effect" appears twice`},
		{"numeric Sid", st(ok + `,"Sid":1`), `"Sid" must be a string`},
		{"Sid with punctuation", st(ok + `,"Sid":"allow-all"`), `may hold only letters`},
		{"duplicate Sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, `Statement[1] has the same "Sid" "A" as Statement[0]`},
		{"Condition a string", st(ok + `,"Condition":"x"`), `"Condition" must be an object, not a string`},
		{"Condition operator a list", st(ok + `,"Condition":{"StringEquals":["a"]}`), `must be an object of condition keys, not a list`},
		{"Condition value an object", st(ok + `,"Condition":{"StringEquals":{"k":{"a":1}}}`), `values must be strings, numbers or booleans, not an object`},
		{"Condition value empty list", st(ok + `,"Condition":{"StringEquals":{"k":[]}}`), `must not be an empty list`},
		{"Condition empty key", st(ok + `,"Condition":{"StringEquals":{"":"a"}}`), `empty condition key`},
		{"second statement bad", `{"Version":"2012-10-17","Statement":[{` + ok + `},{"Effect":"Allow","Action":"iot:*"}]}`, `Statement[1] has no "Resource"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicyDocument(tt.doc)
			if err == nil {
				t.Fatalf("got %+v and no error, want MalformedPolicyException containing %q", got, tt.want)
			}
			if code := ErrorCode(err); code != CodeMalformedPolicy {
				t.Fatalf("got code %s (%v), want %s", code, err, CodeMalformedPolicy)
			}
			msg := err.(*Error).Message
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got message %q, want it to contain %q", msg, tt.want)
			}
			if !strings.HasPrefix(msg, "The policy document is not valid: ") {
				t.Errorf("got message %q, want the common prefix", msg)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"iot:*", "iot:Publish", false, true},
		{"iot:*", "iotx:Publish", false, false},
		{"iot:Pub*", "iot:Publish", false, true},
		{"iot:Publish", "iot:publish", false, false},
		{"iot:Publish", "iot:publish", true, true},
		{"iot:?ublish", "iot:Publish", false, true},
		{"iot:?ublish", "iot:ublish", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"a*", "b", false, false},
		{"", "", false, true},
		{"", "a", false, false},
		{"arn:aws:iot:*:*:topic/a/*", "arn:aws:iot:us-east-1:1:topic/a/b/c", false, true},
		{"*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false, false},
	}
	for _, tt := range tests {
		if got := WildcardMatch(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("WildcardMatch(%q, %q, %v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}

func TestStatementMatching(t *testing.T) {
	doc, err := ParsePolicyDocument(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:*","Resource":"*"},
		{"Effect":"Allow","Action":["iot:publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/data/*"},
		{"Effect":"Deny","NotAction":"iot:Connect","NotResource":"arn:aws:iot:us-east-1:123456789012:topic/ok"},
		{"Effect":"Deny","Action":"iot:Subscribe","Resource":["arn:aws:iot:us-east-1:123456789012:topicfilter/a/+/b",
			"arn:aws:iot:us-east-1:123456789012:topic/x/#","arn:aws:iot:us-east-1:123456789012:client/c+#","*"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Statements
	const topic = "arn:aws:iot:us-east-1:123456789012:topic/data/t1"
	checks := []struct {
		name      string
		got, want bool
	}{
		{"iot:* matches iot:Connect", s[0].MatchesAction("iot:Connect"), true},
		{"iot:* does not match greengrass:Deploy", s[0].MatchesAction("greengrass:Deploy"), false},
		{"* resource matches any ARN", s[0].MatchesResource(topic), true},
		{"actions match case-insensitively", s[1].MatchesAction("iot:Publish"), true},
		{"unlisted action", s[1].MatchesAction("iot:Connect"), false},
		{"resource wildcard", s[1].MatchesResource(topic), true},
		{"resources match case-sensitively", s[1].MatchesResource("arn:aws:iot:us-east-1:123456789012:topic/DATA/t1"), false},
		{"NotAction excludes the listed action", s[2].MatchesAction("iot:Connect"), false},
		{"NotAction covers other actions", s[2].MatchesAction("iot:Publish"), true},
		{"NotResource excludes the listed resource", s[2].MatchesResource("arn:aws:iot:us-east-1:123456789012:topic/ok"), false},
		{"NotResource covers other resources", s[2].MatchesResource(topic), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	got := s[3].MQTTWildcardResources()
	want := []string{"arn:aws:iot:us-east-1:123456789012:topicfilter/a/+/b", "arn:aws:iot:us-east-1:123456789012:topic/x/#"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MQTTWildcardResources: got %q, want %q (client resources and * are not topics)", got, want)
	}
	if got := s[1].MQTTWildcardResources(); got != nil {
		t.Errorf("MQTTWildcardResources of a statement without + or #: got %q, want none", got)
	}
}

func TestParsePolicyVersionID(t *testing.T) {
	tests := []struct {
		id   string
		n    int64
		isOK bool
	}{
		{"1", 1, true}, {"42", 42, true}, {"0", 0, false}, {"01", 0, false}, {"", 0, false},
		{"-1", 0, false}, {"+1", 0, false}, {"99999999999999999999", 0, false}, {"1a", 0, false},
	}
	for _, tt := range tests {
		n, ok := ParsePolicyVersionID(tt.id)
		if n != tt.n || ok != tt.isOK {
			t.Errorf("ParsePolicyVersionID(%q) = %d, %v; want %d, %v", tt.id, n, ok, tt.n, tt.isOK)
		}
	}
}

func TestValidatePolicyName(t *testing.T) {
	for _, name := range []string{"a", "Policy_1", "a+b=c,d.e@f-g", strings.Repeat("p", 128)} {
		var v Validator
		ValidatePolicyName(&v, "policyName", name)
		if err := v.Err(); err != nil {
			t.Errorf("ValidatePolicyName(%q): %v, want ok", name, err)
		}
	}
	for _, name := range []string{"", "a b", "a/b", "a:b", "ä", strings.Repeat("p", 129)} {
		var v Validator
		ValidatePolicyName(&v, "policyName", name)
		if err := v.Err(); ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("ValidatePolicyName(%q): got %v, want InvalidRequestException", name, err)
		}
	}
}

func BenchmarkParsePolicyDocument(b *testing.B) {
	doc := padTo(2048, 400)
	for b.Loop() {
		if _, err := ParsePolicyDocument(doc); err != nil {
			b.Fatal(err)
		}
	}
}
