package protocol

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

func TestReadQuery(t *testing.T) {
	iam := awsmodel.Load(awsmodel.IAMModel).Operations
	sns := awsmodel.Load(awsmodel.SNSModel).Operations
	tests := []struct {
		name string
		op   *awsmodel.Operation
		form string
		want Input
		err  string // a part of the message; "" for none
	}{
		{"scalars and a list of structures", iam["CreateRole"],
			"Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=d&MaxSessionDuration=7200&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=j&Tags.member.2.Value=",
			Input{"RoleName": "r", "AssumeRolePolicyDocument": "d", "MaxSessionDuration": json.Number("7200"),
				"Tags": []any{map[string]any{"Key": "k", "Value": "v"}, map[string]any{"Key": "j", "Value": ""}}}, ""},
		{"an empty list", iam["CreateRole"], "RoleName=r&AssumeRolePolicyDocument=d&Tags=",
			Input{"RoleName": "r", "AssumeRolePolicyDocument": "d", "Tags": []any{}}, ""},
		{"a map with renamed keys and values", sns["Publish"],
			"Message=m&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=x",
			Input{"Message": "m", "MessageAttributes": map[string]any{"a": map[string]any{"DataType": "String", "StringValue": "x"}}}, ""},
		{"a map", sns["Subscribe"], "TopicArn=t&Protocol=http&Attributes.entry.1.key=RawMessageDelivery&Attributes.entry.1.value=true&ReturnSubscriptionArn=true",
			Input{"TopicArn": "t", "Protocol": "http", "Attributes": map[string]any{"RawMessageDelivery": "true"}, "ReturnSubscriptionArn": true}, ""},
		{"members named in lowerCamelCase", iam["CreateRole"], "RoleName=a%20b&Tags.member.1.Key=a*",
			nil, "4 validation errors detected: Value 'a b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+; " +
				"Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null; " +
				"Value 'a*' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+; " +
				"Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"},
		{"a number that is not one", iam["ListRoles"], "MaxItems=ten",
			nil, "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy constraint: Member must be a number"},
		{"a structure in a map without a required member", sns["Publish"], "Message=m&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.StringValue=x",
			nil, "Value null at 'messageAttributes.a.dataType' failed to satisfy constraint: Member must not be null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			in, err := ReadQuery(tt.op, form, "ValidationError")
			if tt.err != "" {
				e, ok := err.(*warden.Error)
				if !ok || e.Code != "ValidationError" || !strings.Contains(e.Message, tt.err) {
					t.Fatalf("error %v, want ValidationError containing %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(in, tt.want) {
				t.Fatalf("got %#v, %v; want %#v", in, err, tt.want)
			}
		})
	}
}

func TestBindQuery(t *testing.T) {
	op := awsmodel.Load(awsmodel.IAMModel).Operations["CreateRole"]
	form, _ := url.ParseQuery("RoleName=r&AssumeRolePolicyDocument=d&MaxSessionDuration=7200&Tags.member.1.Key=k&Tags.member.1.Value=v")
	in, err := ReadQuery(op, form, "ValidationError")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		RoleName           string
		MaxSessionDuration int
		Tags               []warden.Tag
	}
	if err := BindQuery(op, in, &got); err != nil {
		t.Fatal(err)
	}
	if got.RoleName != "r" || got.MaxSessionDuration != 7200 || !reflect.DeepEqual(got.Tags, []warden.Tag{{Key: "k", Value: "v"}}) {
		t.Fatalf("bound %+v", got)
	}
}
