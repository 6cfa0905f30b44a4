package awsmodel

// An Override is a place where Warden answers other than the pinned model
// says, declared here so that the model test can hold everything else to
// the model.
type Override struct {
	Model, Operation, Member string
	// Optional makes a required member optional.
	Optional bool
	// ValidatedByHandler leaves the member's constraints to the handler
	// (its JSON type is still checked).
	ValidatedByHandler bool
	// Pattern, if set, replaces the member's pattern (for this operation only).
	Pattern string
	// Why cites the reason.
	Why string
}

// Overrides are applied when the models load.
var Overrides = []Override{
	{Model: IoTModel, Operation: "ListAuditMitigationActionsExecutions", Member: "findingId", Optional: true,
		Why: "without findingId Warden lists every execution of the task (a superset of AWS's answer, kept from " +
			"before the model table so existing callers go on working); SDKs always send it"},
	{Model: IoTModel, Operation: "ValidateSecurityProfileBehaviors", Member: "behaviors", ValidatedByHandler: true,
		Why: "AWS answers valid:false with a message per problem, not InvalidRequestException, for behaviours that break " +
			"the model's constraints (its CLI example: \"Behavior Authorization is malformed. consecutiveDatapointsToAlarm " +
			"100000 should be in range[1,10]\"); the handler checks the model's Behavior shape itself (Shape.Problems)"},
	{Model: IAMModel, Operation: "CreateRole", Member: "Path", Pattern: `(\u002F)|(\u002F[\u0021-\u007F]+\u002F)`,
		Why: "the pattern IAM's model gave pathType before the pinned one (which refuses DEL, U+007F); ListRoles' " +
			"pathPrefixType still admits it, and Warden's role tests assert a path with DEL is accepted"},
	{Model: IAMModel, Operation: "CreateRole", Member: "Description", Pattern: `[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*`,
		Why: "the pattern IAM's model gave roleDescriptionType before the pinned one (which admits tabs and refuses " +
			"symbols such as €); Warden's role tests assert a tab is refused, and existing roles' descriptions keep passing"},
}

func applyOverrides(services map[string]*Service) {
	for _, o := range Overrides {
		op := services[o.Model].Operations[o.Operation]
		m := op.Input.MemberNamed(o.Member)
		if m == nil {
			panic("awsmodel: override of " + o.Operation + "." + o.Member + ", which the model does not have")
		}
		if o.Optional {
			m.Required = false
		}
		m.ValidatedByHandler = o.ValidatedByHandler
		if o.Pattern != "" {
			// A copy: the shape is shared with operations the override is not about.
			shape := *m.Shape
			re, err := compilePattern(o.Pattern)
			if err != nil {
				panic("awsmodel: override of " + o.Operation + "." + o.Member + ": " + err.Error())
			}
			shape.Pattern, shape.Regexp = o.Pattern, re
			m.Shape = &shape
		}
	}
}
