package warden

import (
	"encoding/json"
	"strconv"
	"time"
)

// Mitigation action types (the MitigationActionType enum).
const (
	ActionUpdateDeviceCertificate     = "UPDATE_DEVICE_CERTIFICATE"
	ActionUpdateCACertificate         = "UPDATE_CA_CERTIFICATE"
	ActionAddThingsToThingGroup       = "ADD_THINGS_TO_THING_GROUP"
	ActionReplaceDefaultPolicyVersion = "REPLACE_DEFAULT_POLICY_VERSION"
	ActionEnableIoTLogging            = "ENABLE_IOT_LOGGING"
	ActionPublishFindingToSNS         = "PUBLISH_FINDING_TO_SNS"
)

// ActionTypes lists every MitigationActionType in the model's order.
var ActionTypes = []string{
	ActionUpdateDeviceCertificate, ActionUpdateCACertificate, ActionAddThingsToThingGroup,
	ActionReplaceDefaultPolicyVersion, ActionEnableIoTLogging, ActionPublishFindingToSNS,
}

// MaxMitigationActions is the per-account quota (not adjustable in AWS).
const MaxMitigationActions = 100

// MitigationAction is a defined action that audit mitigation tasks apply to
// findings.
type MitigationAction struct {
	Name             string
	ID               string
	RoleArn          string
	Params           MitigationActionParams
	CreationDate     time.Time
	LastModifiedDate time.Time
}

// ARN is the action's ARN in scope s.
func (a *MitigationAction) ARN(s Scope) string { return s.IoTARN("mitigationaction/" + a.Name) }

// MitigationActionParams holds exactly one action's parameters; which member
// is set decides the action type.
type MitigationActionParams struct {
	UpdateDeviceCertificateParams     *UpdateCertificateParams           `json:"updateDeviceCertificateParams,omitempty"`
	UpdateCACertificateParams         *UpdateCertificateParams           `json:"updateCACertificateParams,omitempty"`
	AddThingsToThingGroupParams       *AddThingsToThingGroupParams       `json:"addThingsToThingGroupParams,omitempty"`
	ReplaceDefaultPolicyVersionParams *ReplaceDefaultPolicyVersionParams `json:"replaceDefaultPolicyVersionParams,omitempty"`
	EnableIoTLoggingParams            *EnableIoTLoggingParams            `json:"enableIoTLoggingParams,omitempty"`
	PublishFindingToSnsParams         *PublishFindingToSnsParams         `json:"publishFindingToSnsParams,omitempty"`
}

// UpdateCertificateParams is both UpdateDeviceCertificateParams and
// UpdateCACertificateParams: DEACTIVATE is the only action.
type UpdateCertificateParams struct {
	Action string `json:"action"`
}

// AddThingsToThingGroupParams moves the finding's things into groups.
type AddThingsToThingGroupParams struct {
	ThingGroupNames       []string `json:"thingGroupNames"`
	OverrideDynamicGroups *bool    `json:"overrideDynamicGroups,omitempty"`
}

// ReplaceDefaultPolicyVersionParams names the template of the new default
// version; BLANK_POLICY is the only one.
type ReplaceDefaultPolicyVersionParams struct {
	TemplateName string `json:"templateName"`
}

// EnableIoTLoggingParams turns on V2 logging.
type EnableIoTLoggingParams struct {
	RoleArnForLogging string `json:"roleArnForLogging"`
	LogLevel          string `json:"logLevel"`
}

// PublishFindingToSnsParams names the topic findings are published to.
type PublishFindingToSnsParams struct {
	TopicArn string `json:"topicArn"`
}

// Type is the action type the set member stands for, or "" if none is set.
func (p *MitigationActionParams) Type() string {
	for _, m := range p.members() {
		if m.set {
			return m.actionType
		}
	}
	return ""
}

type paramsMember struct {
	name, actionType string
	set              bool
}

func (p *MitigationActionParams) members() []paramsMember {
	return []paramsMember{
		{"updateDeviceCertificateParams", ActionUpdateDeviceCertificate, p.UpdateDeviceCertificateParams != nil},
		{"updateCACertificateParams", ActionUpdateCACertificate, p.UpdateCACertificateParams != nil},
		{"addThingsToThingGroupParams", ActionAddThingsToThingGroup, p.AddThingsToThingGroupParams != nil},
		{"replaceDefaultPolicyVersionParams", ActionReplaceDefaultPolicyVersion, p.ReplaceDefaultPolicyVersionParams != nil},
		{"enableIoTLoggingParams", ActionEnableIoTLogging, p.EnableIoTLoggingParams != nil},
		{"publishFindingToSnsParams", ActionPublishFindingToSNS, p.PublishFindingToSnsParams != nil},
	}
}

// Validate checks the parameters under the JSON path member.
func (p *MitigationActionParams) Validate(v *Validator, member string) {
	set := 0
	for _, m := range p.members() {
		if m.set {
			set++
		}
	}
	if set != 1 {
		v.Problem("actionParams must contain exactly one of updateDeviceCertificateParams, updateCACertificateParams, " +
			"addThingsToThingGroupParams, replaceDefaultPolicyVersionParams, enableIoTLoggingParams, publishFindingToSnsParams; got " +
			strconv.Itoa(set))
	}
	// The model checks each member; it cannot say that DISABLED, in the
	// LogLevel enum, cannot be the level of an action that enables logging.
	if q := p.EnableIoTLoggingParams; q != nil && q.LogLevel == "DISABLED" {
		v.Enum(member+".enableIoTLoggingParams.logLevel", q.LogLevel, "DEBUG", "INFO", "ERROR", "WARN")
	}
	// The model sets no minimum on SnsTopicArn; no ARN is shorter than 20
	// characters (RoleArn's minimum), so Warden refuses those at once.
	if q := p.PublishFindingToSnsParams; q != nil && len(q.TopicArn) < 20 {
		v.Length(member+".publishFindingToSnsParams.topicArn", q.TopicArn, 20, 350)
	}
}

// Equal reports whether p and q define the same action.
func (p *MitigationActionParams) Equal(q *MitigationActionParams) bool {
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(q)
	return string(a) == string(b)
}

// ValidateRoleArn checks a RoleArn member.
func ValidateRoleArn(v *Validator, member, arn string) { v.Length(member, arn, 20, 2048) }
