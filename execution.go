package warden

import (
	"encoding/json"
	"strings"
)

// What one execution of a mitigation action does to its finding's
// resource. PlanMitigation decides it before anything is written; the store
// applies the effect in the transaction that records the execution's end.

// MitigationFinding is an audit finding as its mitigation executions read
// it, the JSON members kept as the documents they were stored as.
type MitigationFinding struct {
	ID, AuditTaskID, CheckName string
	Severity, ResourceType     string
	// ResourceIdentifier, AdditionalInfo and RelatedResources are JSON
	// documents.
	ResourceIdentifier               string
	AdditionalInfo, RelatedResources string
	ReasonCode, Reason               string
	// TaskStartTime and FindingTime are epoch milliseconds.
	TaskStartTime, FindingTime int64
	// Target is what ResourceIdentifier names (ParseMitigationTarget).
	Target MitigationTarget
}

// MitigationTarget holds the ResourceIdentifier members executors use.
type MitigationTarget struct {
	DeviceCertificateID     string `json:"deviceCertificateId"`
	DeviceCertificateArn    string `json:"deviceCertificateArn"`
	CACertificateID         string `json:"caCertificateId"`
	PolicyVersionIdentifier *struct {
		PolicyName string `json:"policyName"`
	} `json:"policyVersionIdentifier"`
}

// ParseMitigationTarget reads a finding's resourceIdentifier document. The
// common {"deviceCertificateId":"<id>"} is read without the JSON decoder;
// an identifier that does not parse names no resource, and the executions
// then fail with INVALID_STATE_OF_RESOURCE.
func ParseMitigationTarget(doc string) MitigationTarget {
	var t MitigationTarget
	const prefix, suffix = `{"deviceCertificateId":"`, `"}`
	if strings.HasPrefix(doc, prefix) && strings.HasSuffix(doc, suffix) && len(doc) >= len(prefix)+len(suffix) {
		if id := doc[len(prefix) : len(doc)-len(suffix)]; !strings.ContainsAny(id, `"\`) {
			t.DeviceCertificateID = id
			return t
		}
	}
	_ = json.Unmarshal([]byte(doc), &t)
	return t
}

// DeviceCertificate is the target's device certificate: its
// deviceCertificateId, or the id in its deviceCertificateArn.
func (t *MitigationTarget) DeviceCertificate() (string, error) {
	if id := t.DeviceCertificateID; id != "" {
		return id, nil
	}
	if arn := t.DeviceCertificateArn; arn != "" {
		if _, kind, id, ok := ParseIoTARN(arn); ok && kind == "cert" {
			return id, nil
		}
	}
	return "", Errorf(CodeInvalidRequest, "The finding names no device certificate (resourceIdentifier.deviceCertificateId).")
}

// MitigationEffect is what one execution changes; Type, the action type,
// says which members apply.
type MitigationEffect struct {
	Type string
	// Resources are what the action's role must be allowed to touch
	// (MitigationPermissions).
	Resources MitigationResources
	// CertificateID is the certificate to deactivate: a device certificate
	// (UPDATE_DEVICE_CERTIFICATE) or a CA certificate (UPDATE_CA_CERTIFICATE).
	CertificateID string
	// Things join the static Groups, in order, each moved out of its most
	// recently created dynamic group when it is in MaxGroupsPerThing groups
	// and OverrideDynamicGroups is set (ADD_THINGS_TO_THING_GROUP).
	Things, Groups        []string
	OverrideDynamicGroups bool
	// PolicyName gets BlankPolicyDocument as its new default version
	// (REPLACE_DEFAULT_POLICY_VERSION).
	PolicyName string
	// Logging becomes the V2 logging options (ENABLE_IOT_LOGGING).
	Logging V2LoggingOptions
	// Message is published to Resources.TopicArn (PUBLISH_FINDING_TO_SNS).
	Message string
}

// PlanMitigation decides what an action with params does to finding f of
// scope s. principalThings lists the things attached to a certificate ARN;
// only ADD_THINGS_TO_THING_GROUP calls it. A *Error means the finding names
// no resource the action can change; the execution fails with it.
func PlanMitigation(s Scope, params *MitigationActionParams, f *MitigationFinding,
	principalThings func(certificateArn string) ([]string, error)) (MitigationEffect, error) {
	e := MitigationEffect{Type: params.Type()}
	var err error
	switch e.Type {
	case ActionUpdateDeviceCertificate:
		e.CertificateID, err = f.Target.DeviceCertificate()
		e.Resources.CertificateArn = s.CertificateARN(e.CertificateID)
	case ActionUpdateCACertificate:
		e.CertificateID = f.Target.CACertificateID
		if e.CertificateID == "" {
			return e, Errorf(CodeInvalidRequest, "The finding names no CA certificate (resourceIdentifier.caCertificateId).")
		}
		e.Resources.CACertificateArn = s.CACertificateARN(e.CertificateID)
	case ActionAddThingsToThingGroup:
		id, err := f.Target.DeviceCertificate()
		if err != nil {
			return e, err
		}
		p := params.AddThingsToThingGroupParams
		e.Resources.CertificateArn = s.CertificateARN(id)
		if e.Things, err = principalThings(e.Resources.CertificateArn); err != nil {
			return e, err
		}
		for _, t := range e.Things {
			e.Resources.ThingArns = append(e.Resources.ThingArns, ThingARN(s, t))
		}
		e.Groups = p.ThingGroupNames
		for _, g := range e.Groups {
			e.Resources.ThingGroupArns = append(e.Resources.ThingGroupArns, ThingGroupARN(s, g))
		}
		e.OverrideDynamicGroups = p.OverrideDynamicGroups != nil && *p.OverrideDynamicGroups
	case ActionReplaceDefaultPolicyVersion:
		p := f.Target.PolicyVersionIdentifier
		if p == nil || p.PolicyName == "" {
			return e, Errorf(CodeInvalidRequest, "The finding names no policy (resourceIdentifier.policyVersionIdentifier.policyName).")
		}
		e.PolicyName = p.PolicyName
		e.Resources.PolicyArn = PolicyARN(s, p.PolicyName)
	case ActionEnableIoTLogging:
		p := params.EnableIoTLoggingParams
		e.Logging = V2LoggingOptions{RoleArn: p.RoleArnForLogging, DefaultLogLevel: p.LogLevel, DisableAllLogs: false}
		e.Resources.LoggingRoleArn = p.RoleArnForLogging
	case ActionPublishFindingToSNS:
		e.Resources.TopicArn = params.PublishFindingToSnsParams.TopicArn
		e.Message, err = f.SNSMessage()
	}
	return e, err
}

// findingSNSMessage is the message PUBLISH_FINDING_TO_SNS sends
// (semantics.md §6): the finding with the API's member names, times in
// epoch milliseconds.
type findingSNSMessage struct {
	FindingID                  string             `json:"findingId"`
	FindingTime                int64              `json:"findingTime"`
	Severity                   string             `json:"severity"`
	TaskStartTime              int64              `json:"taskStartTime"`
	NonCompliantResource       findingSNSResource `json:"nonCompliantResource"`
	RelatedResources           json.RawMessage    `json:"relatedResources,omitempty"`
	TaskID                     string             `json:"taskId"`
	CheckName                  string             `json:"checkName"`
	ReasonForNonComplianceCode string             `json:"reasonForNonComplianceCode"`
	ReasonForNonCompliance     string             `json:"reasonForNonCompliance"`
}

type findingSNSResource struct {
	ResourceType       string          `json:"resourceType"`
	ResourceIdentifier json.RawMessage `json:"resourceIdentifier"`
	AdditionalInfo     json.RawMessage `json:"additionalInfo,omitempty"`
}

// SNSMessage is the message PUBLISH_FINDING_TO_SNS publishes for the
// finding. A stored document that is not valid JSON is left out (the
// resource identifier becomes {}).
func (f *MitigationFinding) SNSMessage() (string, error) {
	m := findingSNSMessage{
		FindingID: f.ID, FindingTime: f.FindingTime, Severity: f.Severity, TaskStartTime: f.TaskStartTime,
		NonCompliantResource: findingSNSResource{ResourceType: f.ResourceType, ResourceIdentifier: jsonOr(f.ResourceIdentifier, "{}")},
		TaskID:               f.AuditTaskID, CheckName: f.CheckName,
		ReasonForNonComplianceCode: f.ReasonCode, ReasonForNonCompliance: f.Reason,
	}
	if info := jsonOr(f.AdditionalInfo, ""); len(info) > 0 && string(info) != "{}" {
		m.NonCompliantResource.AdditionalInfo = info
	}
	if rel := jsonOr(f.RelatedResources, ""); len(rel) > 0 && string(rel) != "[]" {
		m.RelatedResources = rel
	}
	b, err := json.Marshal(&m)
	return string(b), err
}

// jsonOr is doc when it is valid JSON, else def.
func jsonOr(doc, def string) json.RawMessage {
	if doc != "" && json.Valid([]byte(doc)) {
		return json.RawMessage(doc)
	}
	if def == "" {
		return nil
	}
	return json.RawMessage(def)
}
