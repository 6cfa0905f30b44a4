package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestTagLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "tagme", deviceCertParams(), tag("init", "1"))
	arn := actionArn(accountA, region, "tagme")
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"add", func() error {
			_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("b", "2"), tag("a", "1")}})
			return err
		}, "a=1,b=2,init=1"},
		{"overwrite by key", func() error {
			_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("a", "one"), tag("c", "")}})
			return err
		}, "a=one,b=2,c=,init=1"},
		{"add another", func() error {
			_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("d", "y")}})
			return err
		}, "a=one,b=2,c=,d=y,init=1"},
		{"remove, including a key that is not there", func() error {
			_, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"b", "nope", "init"}})
			return err
		}, "a=one,c=,d=y"},
		{"remove nothing", func() error {
			_, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{}})
			return err
		}, "a=one,c=,d=y"},
		{"remove all", func() error {
			_, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a", "c", "d"}})
			return err
		}, ""},
		{"add after removing all", func() error {
			_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("z", "26")}})
			return err
		}, "z=26"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := tagsString(listTags(t, e.a, arn)); got != s.want {
			t.Errorf("after %s: got tags %q, want %q", s.name, got, s.want)
		}
	}
}

func TestTagErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "tagme", deviceCertParams(), tag("k", "v"))
	arn := actionArn(accountA, region, "tagme")
	tagOp := func(resource string) error {
		_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(resource), Tags: []types.Tag{tag("x", "y")}})
		return err
	}
	untagOp := func(resource string) error {
		_, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(resource), TagKeys: []string{"k"}})
		return err
	}
	listOp := func(resource string) error {
		_, err := e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(resource)})
		return err
	}
	tests := []struct {
		name, arn  string
		code       string
		status     int
		wantInMsgs string
	}{
		{"unknown action", actionArn(accountA, region, "missing"), "ResourceNotFoundException", http.StatusNotFound, "missing"},
		{"deleted-looking name", actionArn(accountA, region, "tagme2"), "ResourceNotFoundException", http.StatusNotFound, ""},
		{"not an ARN", "tagme", "InvalidRequestException", http.StatusBadRequest, ""},
		{"empty", "", "InvalidRequestException", http.StatusBadRequest, ""},
		{"no resource id", "arn:aws:iot:us-east-1:123456789012:mitigationaction", "InvalidRequestException", http.StatusBadRequest, ""},
		{"empty resource id", "arn:aws:iot:us-east-1:123456789012:mitigationaction/", "InvalidRequestException", http.StatusBadRequest, ""},
		{"other service", "arn:aws:sns:us-east-1:123456789012:mitigationaction/tagme", "InvalidRequestException", http.StatusBadRequest, ""},
		{"too few fields", "arn:aws:iot:us-east-1:mitigationaction/tagme", "InvalidRequestException", http.StatusBadRequest, ""},
	}
	ops := []struct {
		name string
		do   func(string) error
	}{{"TagResource", tagOp}, {"UntagResource", untagOp}, {"ListTagsForResource", listOp}}
	for _, tc := range tests {
		for _, op := range ops {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				err := op.do(tc.arn)
				wantCode(t, err, tc.code, tc.status)
				if msg := errorMessage(err); !strings.Contains(msg, tc.wantInMsgs) {
					t.Errorf("got message %q, want it to contain %q", msg, tc.wantInMsgs)
				}
			})
		}
	}
	if got := tagsString(listTags(t, e.a, arn)); got != "k=v" {
		t.Errorf("tags of the real action changed to %q, want k=v", got)
	}
	if got := listAll(t, e.a, ""); len(got) != 1 {
		t.Errorf("got actions %q, want only tagme", got)
	}
}

func TestTagValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "tagme", deviceCertParams(), tag("k", "v"))
	arn := actionArn(accountA, region, "tagme")
	tagTests := []struct {
		name    string
		tags    []types.Tag
		wantMsg string
	}{
		{"empty key", []types.Tag{tag("", "v")}, "tags.1.member.Key"},
		{"129-char key", []types.Tag{tag("ok", ""), tag(strings.Repeat("k", 129), "v")}, "tags.2.member.Key"},
		{"bad char in key", []types.Tag{tag("a*b", "v")}, "tags.1.member.Key"},
		{"257-char value", []types.Tag{tag("k", strings.Repeat("v", 257))}, "tags.1.member.Value"},
		{"51 tags", manyTags(51), "tags"},
	}
	for _, tc := range tagTests {
		t.Run("TagResource/"+tc.name, func(t *testing.T) {
			_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: tc.tags})
			wantInvalidRequest(t, err, tc.wantMsg)
			if got := tagsString(listTags(t, e.a, arn)); got != "k=v" {
				t.Errorf("tags changed to %q, want k=v", got)
			}
		})
	}
	for _, key := range []string{"", strings.Repeat("k", 129)} {
		t.Run("UntagResource/key of "+string(rune('0'+len(key)%10)), func(t *testing.T) {
			_, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"k", key}})
			wantInvalidRequest(t, err, "tagKeys")
			if got := tagsString(listTags(t, e.a, arn)); got != "k=v" {
				t.Errorf("tags changed to %q, want k=v", got)
			}
		})
	}
	// What the SDK refuses to send: missing required members.
	raw := []struct {
		name, method, path, body, wantMsg string
	}{
		{"TagResource without tags", "POST", "/tags", `{"resourceArn":"` + arn + `"}`, "tags"},
		{"TagResource without resourceArn", "POST", "/tags", `{"tags":[{"Key":"a","Value":"b"}]}`, "resourceArn"},
		{"UntagResource without tagKeys", "POST", "/untag", `{"resourceArn":"` + arn + `"}`, "tagKeys"},
		{"UntagResource without resourceArn", "POST", "/untag", `{"tagKeys":["k"]}`, "resourceArn"},
		{"ListTagsForResource without resourceArn", "GET", "/tags", ``, "resourceArn"},
	}
	for _, tc := range raw {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			msg := wantJSONError(t, e.call(t, tc.method, tc.path, body), "InvalidRequestException", http.StatusBadRequest)
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("got message %q, want it to contain %q", msg, tc.wantMsg)
			}
			if got := tagsString(listTags(t, e.a, arn)); got != "k=v" {
				t.Errorf("tags changed to %q, want k=v", got)
			}
		})
	}
}

// TestTagLimitPerResource: a resource holds at most 50 tags in total, and a
// TagResource that would exceed that changes nothing.
func TestTagLimitPerResource(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "full", deviceCertParams(), manyTags(50)...)
	arn := actionArn(accountA, region, "full")
	want := tagsString(listTags(t, e.a, arn))

	_, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("k00", "changed"), tag("one-more", "v")}})
	wantCode(t, err, "LimitExceededException", http.StatusGone)
	if got := tagsString(listTags(t, e.a, arn)); got != want {
		t.Errorf("a refused TagResource changed the tags:\ngot  %s\nwant %s", got, want)
	}
	// Overwriting an existing key keeps the count at 50.
	if _, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("k00", "changed")}}); err != nil {
		t.Fatalf("overwrite at the limit: %v", err)
	}
	got := listTags(t, e.a, arn)
	if len(got) != 50 || aws.ToString(got[0].Value) != "changed" {
		t.Errorf("after overwrite at the limit: got %d tags, first %s=%s; want 50, k00=changed",
			len(got), aws.ToString(got[0].Key), aws.ToString(got[0].Value))
	}
}

func TestDeleteRemovesTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "ephemeral", deviceCertParams(), tag("a", "1"))
	arn := actionArn(accountA, region, "ephemeral")
	if _, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("b", "2")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("ephemeral")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	create(t, e.a, "ephemeral", deviceCertParams())
	if got := listTags(t, e.a, arn); len(got) != 0 {
		t.Errorf("re-created action inherited tags %q, want none", tagsString(got))
	}
	create(t, e.a, "tagged-again", deviceCertParams(), tag("c", "3"))
	if got := tagsString(listTags(t, e.a, actionArn(accountA, region, "tagged-again"))); got != "c=3" {
		t.Errorf("got %q, want c=3", got)
	}
}

// TestListTagsRawQuery sends the ARN the way botocore does (':' and '/'
// percent-encoded in the query) and checks the raw JSON.
func TestListTagsBadNextToken(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "q", deviceCertParams(), tag("a", "1"))
	for _, tok := range []string{"garbage", "YQ.AAAAAAAAAAAAAAAAAAAAAA", "."} {
		_, err := e.a.ListTagsForResource(context.Background(), &iot.ListTagsForResourceInput{
			ResourceArn: aws.String(actionArn(accountA, region, "q")), NextToken: aws.String(tok),
		})
		t.Run(tok, func(t *testing.T) { wantCode(t, err, "InvalidRequestException", http.StatusBadRequest) })
	}
}

func TestListTagsRawQuery(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "q", deviceCertParams(), tag("b", "2"), tag("a", "1"))
	r := e.call(t, "GET", "/tags?resourceArn="+url.QueryEscape(actionArn(accountA, region, "q")), nil)
	body := wantOK(t, r)
	if got, want := string(r.body), `{"tags":[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]}`; got != want {
		t.Errorf("got body %s, want %s", got, want)
	}
	if _, ok := body["nextToken"]; ok {
		t.Errorf("got a nextToken for one page of tags")
	}
	create(t, e.a, "empty", deviceCertParams())
	r = e.call(t, "GET", "/tags?resourceArn="+url.QueryEscape(actionArn(accountA, region, "empty")), nil)
	wantOK(t, r)
	if got, want := string(r.body), `{"tags":[]}`; got != want {
		t.Errorf("no tags: got body %s, want %s", got, want)
	}
}
