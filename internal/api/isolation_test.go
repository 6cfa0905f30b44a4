package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestCrossAccountIsolation: account B can neither see nor change account
// A's action, whatever the operation.
func TestCrossAccountIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "secret", deviceCertParams(), tag("owner", "a"))
	arnA := actionArn(accountA, region, "secret")
	before := describeString(describe(t, e.a, "secret"))

	notFound := []struct {
		name string
		do   func() error
	}{
		{"DescribeMitigationAction", func() error {
			_, err := e.b.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("secret")})
			return err
		}},
		{"UpdateMitigationAction", func() error {
			_, err := e.b.UpdateMitigationAction(ctx, &iot.UpdateMitigationActionInput{ActionName: aws.String("secret"), RoleArn: aws.String(roleArn2)})
			return err
		}},
		{"TagResource", func() error {
			_, err := e.b.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arnA), Tags: []types.Tag{tag("owner", "b")}})
			return err
		}},
		{"UntagResource", func() error {
			_, err := e.b.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arnA), TagKeys: []string{"owner"}})
			return err
		}},
		{"ListTagsForResource", func() error {
			_, err := e.b.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arnA)})
			return err
		}},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.do(), "ResourceNotFoundException", http.StatusNotFound)
		})
	}
	// Delete is idempotent, so B gets 200, but A's action must survive.
	if _, err := e.b.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("secret")}); err != nil {
		t.Errorf("B's delete: got %v, want success (nothing to delete)", err)
	}
	if got := listAll(t, e.b, ""); len(got) != 0 {
		t.Errorf("B lists %q, want nothing", got)
	}
	if got := describeString(describe(t, e.a, "secret")); got != before {
		t.Errorf("A's action changed:\ngot  %s\nwant %s", got, before)
	}
	if got := tagsString(listTags(t, e.a, arnA)); got != "owner=a" {
		t.Errorf("A's tags changed to %q, want owner=a", got)
	}

	// B can use the same name for its own, independent action.
	outB := create(t, e.b, "secret", snsParams(topicArn), tag("owner", "b"))
	if got, want := aws.ToString(outB.ActionArn), actionArn(accountB, region, "secret"); got != want {
		t.Errorf("B's action: got arn %q, want %q", got, want)
	}
	dB := describe(t, e.b, "secret")
	if aws.ToString(dB.ActionId) == aws.ToString(describe(t, e.a, "secret").ActionId) {
		t.Errorf("A and B's actions share the actionId %s", aws.ToString(dB.ActionId))
	}
	if dB.ActionType != types.MitigationActionTypePublishFindingToSns {
		t.Errorf("B's action: got type %s, want PUBLISH_FINDING_TO_SNS", dB.ActionType)
	}
	if got := describeString(describe(t, e.a, "secret")); got != before {
		t.Errorf("B's create changed A's action:\ngot  %s\nwant %s", got, before)
	}
	if got := tagsString(listTags(t, e.b, aws.ToString(outB.ActionArn))); got != "owner=b" {
		t.Errorf("B's tags: got %q, want owner=b", got)
	}
	// Deleting B's removes only B's.
	if _, err := e.b.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("secret")}); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, e.a, ""); !slices.Equal(got, []string{"secret"}) {
		t.Errorf("after B's delete A lists %q, want [secret]", got)
	}
	if got := tagsString(listTags(t, e.a, arnA)); got != "owner=a" {
		t.Errorf("B's delete changed A's tags to %q", got)
	}
	// A cannot reach B's ARN space through its own ARN either.
	_, err := e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(actionArn(accountB, region, "secret"))})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
}

// TestRegionIsolation: a region is a separate namespace for the same account.
func TestRegionIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create(t, e.a, "east", deviceCertParams(), tag("r", "us-east-1"))
	eu := e.clientIn(keyA, secretA, "eu-west-1")

	if got := listAll(t, eu, ""); len(got) != 0 {
		t.Errorf("eu-west-1 lists %q, want nothing", got)
	}
	_, err := eu.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String("east")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = eu.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(actionArn(accountA, region, "east"))})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	out := create(t, eu, "east", snsParams(topicArn))
	if got, want := aws.ToString(out.ActionArn), actionArn(accountA, "eu-west-1", "east"); got != want {
		t.Errorf("eu-west-1 action: got arn %q, want %q", got, want)
	}
	if got := describe(t, e.a, "east").ActionType; got != types.MitigationActionTypeUpdateDeviceCertificate {
		t.Errorf("us-east-1 action changed type to %s", got)
	}
	if got := describe(t, eu, "east").ActionType; got != types.MitigationActionTypePublishFindingToSns {
		t.Errorf("eu-west-1 action: got type %s, want PUBLISH_FINDING_TO_SNS", got)
	}
	if got := listTags(t, eu, aws.ToString(out.ActionArn)); len(got) != 0 {
		t.Errorf("eu-west-1 action got us-east-1's tags %q", tagsString(got))
	}
	if _, err := eu.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("east")}); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, e.a, ""); !slices.Equal(got, []string{"east"}) {
		t.Errorf("after the eu-west-1 delete us-east-1 lists %q, want [east]", got)
	}
}
