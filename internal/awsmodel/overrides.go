package awsmodel

// An Override is a place where Warden answers other than the pinned model
// says, declared here so that the model test can hold everything else to
// the model.
type Override struct {
	Model, Operation, Member string
	// Optional makes a required member optional.
	Optional bool
	// Why cites the reason.
	Why string
}

// Overrides are applied when the models load.
var Overrides = []Override{
	{Model: IoTModel, Operation: "ListAuditMitigationActionsExecutions", Member: "findingId", Optional: true,
		Why: "without findingId Warden lists every execution of the task (a superset of AWS's answer, kept from " +
			"before the model table so existing callers go on working); SDKs always send it"},
}

func applyOverrides(services map[string]*Service) {
	for _, o := range Overrides {
		op := services[o.Model].Operations[o.Operation]
		if m := op.Input.MemberNamed(o.Member); m != nil && o.Optional {
			m.Required = false
		}
	}
}
