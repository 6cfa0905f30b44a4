package warden

import (
	"context"
	"time"
)

// Device Defender Detect: security profiles state the normal behaviour of
// devices; the evaluator (internal/detect) turns data-plane traffic and
// device reports into datapoints, compares them with each behaviour and
// records violations; Detect mitigation tasks apply actions to violating
// things. ../shared/spec/detect.md holds what AWS documents.

// Security-profile target ARNs other than a thing group's: the account-wide
// targets, as suffixes of the scope's IoT ARN prefix ("all/things").
const (
	TargetAllThings          = "all/things"
	TargetRegisteredThings   = "all/registered-things"
	TargetUnregisteredThings = "all/unregistered-things"
)

// Criteria types, as ListActiveViolations' behaviorCriteriaType names them.
const (
	CriteriaStatic          = "STATIC"
	CriteriaStatistical     = "STATISTICAL"
	CriteriaMachineLearning = "MACHINE_LEARNING"
)

// Violation event types.
const (
	ViolationInAlarm     = "in-alarm"
	ViolationCleared     = "alarm-cleared"
	ViolationInvalidated = "alarm-invalidated"
)

// Verification states of a violation (UNKNOWN until set).
const (
	VerificationUnknown        = "UNKNOWN"
	VerificationFalsePositive  = "FALSE_POSITIVE"
	VerificationBenignPositive = "BENIGN_POSITIVE"
	VerificationTruePositive   = "TRUE_POSITIVE"
)

// Detect limits (detect.md §7).
const (
	MaxSecurityProfilesPerTarget = 5
	MaxBehaviorsPerProfile       = 100
	MaxValueElementsPerProfile   = 1000
	MaxDetectTaskViolationIDs    = 25
	MaxDetectTaskActions         = 5
	// ViolationRetention is how long violations and their events are kept.
	ViolationRetention = 30 * 24 * time.Hour
	// ViolationInvalidateAfter is how long a device in alarm may send no
	// data before its violation is invalidated.
	ViolationInvalidateAfter = 48 * time.Hour
)

// SecurityProfile is a named set of behaviours with where its alerts go.
// The JSON names are the wire's (DescribeSecurityProfile).
type SecurityProfile struct {
	Name                        string                 `json:"securityProfileName"`
	Arn                         string                 `json:"securityProfileArn"`
	Description                 string                 `json:"securityProfileDescription,omitempty"`
	Behaviors                   []Behavior             `json:"behaviors,omitempty"`
	AlertTargets                map[string]AlertTarget `json:"alertTargets,omitempty"`
	AdditionalMetricsToRetain   []string               `json:"additionalMetricsToRetain,omitempty"`
	AdditionalMetricsToRetainV2 []MetricToRetain       `json:"additionalMetricsToRetainV2,omitempty"`
	MetricsExportConfig         *MetricsExportConfig   `json:"metricsExportConfig,omitempty"`
	Version                     int64                  `json:"version"`
	CreationDate                time.Time              `json:"-"`
	LastModifiedDate            time.Time              `json:"-"`
}

// AlertTarget is where a profile's alerts go: an SNS topic, published to
// with a role.
type AlertTarget struct {
	AlertTargetArn string `json:"alertTargetArn"`
	RoleArn        string `json:"roleArn"`
}

// MetricToRetain is a metric whose values are kept without a behaviour.
type MetricToRetain struct {
	Metric          string           `json:"metric"`
	MetricDimension *MetricDimension `json:"metricDimension,omitempty"`
	ExportMetric    *bool            `json:"exportMetric,omitempty"`
}

// MetricsExportConfig is the MQTT topic metric batches are published to.
type MetricsExportConfig struct {
	MQTTTopic string `json:"mqttTopic"`
	RoleArn   string `json:"roleArn"`
}

// Behavior is one behaviour of a profile: normal values of one metric.
type Behavior struct {
	Name            string            `json:"name"`
	Metric          string            `json:"metric,omitempty"`
	MetricDimension *MetricDimension  `json:"metricDimension,omitempty"`
	Criteria        *BehaviorCriteria `json:"criteria,omitempty"`
	SuppressAlerts  *bool             `json:"suppressAlerts,omitempty"`
	ExportMetric    *bool             `json:"exportMetric,omitempty"`
}

// CriteriaType is STATIC, STATISTICAL or MACHINE_LEARNING.
func (b *Behavior) CriteriaType() string {
	switch {
	case b.Criteria == nil:
		return CriteriaStatic
	case b.Criteria.MLDetectionConfig != nil:
		return CriteriaMachineLearning
	case b.Criteria.StatisticalThreshold != nil:
		return CriteriaStatistical
	}
	return CriteriaStatic
}

// Suppressed reports whether the behaviour's alerts are suppressed.
func (b *Behavior) Suppressed() bool { return b.SuppressAlerts != nil && *b.SuppressAlerts }

// MetricDimension narrows a metric to the messages whose topic matches
// (IN, the default) or does not match (NOT_IN) a dimension's filters.
type MetricDimension struct {
	DimensionName string `json:"dimensionName"`
	Operator      string `json:"operator,omitempty"`
}

// BehaviorCriteria is how a behaviour's datapoints are judged.
type BehaviorCriteria struct {
	ComparisonOperator           string                `json:"comparisonOperator,omitempty"`
	Value                        *MetricValue          `json:"value,omitempty"`
	DurationSeconds              *int                  `json:"durationSeconds,omitempty"`
	ConsecutiveDatapointsToAlarm *int                  `json:"consecutiveDatapointsToAlarm,omitempty"`
	ConsecutiveDatapointsToClear *int                  `json:"consecutiveDatapointsToClear,omitempty"`
	StatisticalThreshold         *StatisticalThreshold `json:"statisticalThreshold,omitempty"`
	MLDetectionConfig            *MLDetectionConfig    `json:"mlDetectionConfig,omitempty"`
}

// StatisticalThreshold is a percentile (p0 … p100) over the devices of a
// profile's targets.
type StatisticalThreshold struct {
	Statistic string `json:"statistic,omitempty"`
}

// MLDetectionConfig configures a machine-learning behaviour.
type MLDetectionConfig struct {
	ConfidenceLevel string `json:"confidenceLevel"`
}

// MetricValue is a datapoint or a criteria value; one member is set.
type MetricValue struct {
	Count   *int64    `json:"count,omitempty"`
	Cidrs   []string  `json:"cidrs,omitempty"`
	Ports   []int     `json:"ports,omitempty"`
	Number  *float64  `json:"number,omitempty"`
	Numbers []float64 `json:"numbers,omitempty"`
	Strings []string  `json:"strings,omitempty"`
}

// CustomMetric is a metric devices report in custom_metrics. The JSON
// names are the wire's (DescribeCustomMetric), also used in the change log.
type CustomMetric struct {
	Name             string    `json:"metricName"`
	Arn              string    `json:"metricArn"`
	Type             string    `json:"metricType"` // a CustomMetric… constant
	DisplayName      string    `json:"displayName,omitempty"`
	CreationDate     time.Time `json:"-"`
	LastModifiedDate time.Time `json:"-"`
}

// Dimension is a named set of MQTT topic filters (type TOPIC_FILTER). The
// JSON names are the wire's (DescribeDimension).
type Dimension struct {
	Name             string    `json:"name"`
	Arn              string    `json:"arn"`
	Type             string    `json:"type"`
	StringValues     []string  `json:"stringValues"`
	CreationDate     time.Time `json:"-"`
	LastModifiedDate time.Time `json:"-"`
}

// SecurityProfileTargetMapping is one profile attached to one target.
type SecurityProfileTargetMapping struct {
	ProfileName, ProfileArn string
	TargetArn               string
}

// DetectConfiguration is what the evaluator needs of one scope: every
// security profile with the ARNs it is attached to, and the dimensions and
// custom metrics its behaviours name.
type DetectConfiguration struct {
	Profiles      []SecurityProfile
	Targets       map[string][]string // profile name → target ARNs
	Dimensions    map[string]Dimension
	CustomMetrics map[string]CustomMetric
}

// SecurityProfileFilter narrows ListSecurityProfiles (at most one is set).
type SecurityProfileFilter struct {
	DimensionName string
	MetricName    string
}

// SecurityProfileUpdate is an UpdateSecurityProfile request: nil members
// are left as they are; a Delete flag empties its member (together with a
// value for that member it is InvalidRequest).
type SecurityProfileUpdate struct {
	Description                     *string
	Behaviors                       *[]Behavior
	AlertTargets                    *map[string]AlertTarget
	AdditionalMetricsToRetain       *[]string
	AdditionalMetricsToRetainV2     *[]MetricToRetain
	MetricsExportConfig             *MetricsExportConfig
	DeleteBehaviors                 bool
	DeleteAlertTargets              bool
	DeleteAdditionalMetricsToRetain bool
	DeleteMetricsExportConfig       bool
	ExpectedVersion                 *int64
}

// SecurityProfileStore keeps security profiles and their targets (custom
// metrics and dimensions are DetectResourceStore's). Each change is
// recorded in the change log under the resource's ARN.
type SecurityProfileStore interface {
	// CreateSecurityProfile stores p (version 1) and its tags; a name in
	// use is ResourceAlreadyExists.
	CreateSecurityProfile(ctx context.Context, s Scope, p SecurityProfile, tags []Tag, now time.Time) (SecurityProfile, error)
	SecurityProfile(ctx context.Context, s Scope, name string) (SecurityProfile, error)
	// UpdateSecurityProfile applies u as a new version; an ExpectedVersion
	// other than the current one is VersionConflict.
	UpdateSecurityProfile(ctx context.Context, s Scope, name string, u SecurityProfileUpdate, now time.Time) (SecurityProfile, error)
	// DeleteSecurityProfile removes the profile, its targets and tags; its
	// active violations are invalidated.
	DeleteSecurityProfile(ctx context.Context, s Scope, name string, expectedVersion *int64, now time.Time) error
	SecurityProfiles(ctx context.Context, s Scope, f SecurityProfileFilter, p Page) (profiles []SecurityProfile, next string, err error)
	// AttachSecurityProfile attaches the profile to a thing group's ARN or
	// an account-wide target; over MaxSecurityProfilesPerTarget is
	// LimitExceeded.
	AttachSecurityProfile(ctx context.Context, s Scope, name, targetArn string, now time.Time) error
	DetachSecurityProfile(ctx context.Context, s Scope, name, targetArn string, now time.Time) error
	SecurityProfileTargets(ctx context.Context, s Scope, name string, p Page) (targetArns []string, next string, err error)
	// SecurityProfilesForTarget lists the profiles attached to targetArn
	// and, with recursive, to its ancestor groups and the account-wide
	// targets that include it.
	SecurityProfilesForTarget(ctx context.Context, s Scope, targetArn string, recursive bool, p Page) (m []SecurityProfileTargetMapping, next string, err error)
	// DetectConfiguration returns the scope's whole Detect configuration.
	DetectConfiguration(ctx context.Context, s Scope) (DetectConfiguration, error)
	// DetectScopes lists the scopes that have at least one security profile.
	DetectScopes(ctx context.Context) ([]Scope, error)
}

// Violation is a violation as ListActiveViolations shows it; ended
// violations keep their row for ListViolationEvents and Detect tasks.
type Violation struct {
	ID                           string
	ThingName                    string
	SecurityProfileName          string
	Behavior                     Behavior
	LastViolationValue           *MetricValue
	VerificationState            string
	VerificationStateDescription string
	StartTime, LastViolationTime time.Time
	// EndTime is when the violation cleared or was invalidated (zero while
	// active).
	EndTime time.Time
}

// ViolationEvent is one transition of a violation.
type ViolationEvent struct {
	ViolationID                  string
	ThingName                    string
	SecurityProfileName          string
	Behavior                     Behavior
	MetricValue                  *MetricValue
	Type                         string // ViolationInAlarm, ViolationCleared, ViolationInvalidated
	VerificationState            string
	VerificationStateDescription string
	Time                         time.Time
}

// DetectTransition is what the evaluator decided for one (profile,
// behaviour, device): Type is a ViolationEvent type, or "" for a violating
// datapoint of a device already in alarm (only the last value changes).
type DetectTransition struct {
	ThingName           string
	SecurityProfileName string
	Behavior            Behavior
	Type                string
	Value               *MetricValue
	At                  time.Time
	// AlertTarget is the profile's SNS alert target (alertTargets["SNS"]),
	// nil when it has none: events of unsuppressed behaviours are published
	// to it with its role, when the role may sns:Publish on the topic.
	AlertTarget *AlertTarget
	// StrictRoles is the server's --strict-roles, as for mitigation
	// actions: without it an account with no IAM roles trusts its own.
	StrictRoles bool
}

// MetricDatum is one datapoint of one device's metric.
type MetricDatum struct {
	ThingName     string
	Metric        string
	DimensionName string // "" unless the datapoint is of a dimension
	// DimensionOperator is IN or NOT_IN for a dimension's datapoint.
	DimensionOperator string
	Time              time.Time
	Value             MetricValue
}

// ViolationFilter narrows ListActiveViolations and ListViolationEvents.
type ViolationFilter struct {
	ThingName, SecurityProfileName string
	CriteriaType                   string
	// ListSuppressedAlerts false leaves out the violations of behaviours
	// with suppressAlerts; nil or true lists them too.
	ListSuppressedAlerts *bool
	VerificationState    string
	// Start and End bound ListViolationEvents' event times.
	Start, End time.Time
}

// MetricValueFilter is a ListMetricValues request.
type MetricValueFilter struct {
	ThingName, Metric                string
	DimensionName, DimensionOperator string
	Start, End                       time.Time
}

// ViolationStore keeps violations, their events and metric datapoints.
type ViolationStore interface {
	// ApplyDetectTransitions records the transitions in one transaction: an
	// in-alarm opens a violation (new ID) unless one is active for the same
	// profile, behaviour and thing; "" updates the active one's last value;
	// cleared and invalidated end it. Alerts of unsuppressed behaviours go
	// to the profile's SNS alert target through the outbox. It returns the
	// events written.
	ApplyDetectTransitions(ctx context.Context, s Scope, ts []DetectTransition) ([]ViolationEvent, error)
	// ActiveViolations lists the active violations, newest first.
	ActiveViolations(ctx context.Context, s Scope, f ViolationFilter, p Page) (vs []Violation, next string, err error)
	// ViolationEvents lists the events in [f.Start, f.End], newest first.
	ViolationEvents(ctx context.Context, s Scope, f ViolationFilter, p Page) (es []ViolationEvent, next string, err error)
	// PutVerificationState sets a violation's verification state (and that
	// of its events). The model has no ResourceNotFound for it: an unknown
	// id is InvalidRequest.
	PutVerificationState(ctx context.Context, s Scope, violationID, state, description string, now time.Time) error
	// RecordMetricValues stores datapoints of metrics a behaviour uses or a
	// profile retains.
	RecordMetricValues(ctx context.Context, s Scope, ds []MetricDatum) error
	MetricValues(ctx context.Context, s Scope, f MetricValueFilter, p Page) (ds []MetricDatum, next string, err error)
	// PruneViolations removes violations and datapoints older than before.
	PruneViolations(ctx context.Context, before time.Time) error
}

// Detect mitigation task and execution statuses.
const (
	DetectTaskInProgress = "IN_PROGRESS"
	DetectTaskSuccessful = "SUCCESSFUL"
	DetectTaskFailed     = "FAILED"
	DetectTaskCanceled   = "CANCELED"
)

// DetectMitigationTask is a StartDetectMitigationActionsTask request and
// its progress.
type DetectMitigationTask struct {
	TaskID                         string
	Status                         string
	StartTime, EndTime             time.Time
	Target                         DetectMitigationTarget
	OccurrenceStart, OccurrenceEnd time.Time // zero: no range
	OnlyActiveViolations           bool
	IncludeSuppressedAlerts        bool
	ClientRequestToken             string
	// Actions are copies of the named actions as they were at the start.
	Actions []MitigationAction
	// Executed, Skipped and Failed count executions.
	Executed, Skipped, Failed int64
}

// DetectMitigationTarget selects violations: ViolationIDs, or a profile's
// violations (of one behaviour when BehaviorName is set).
type DetectMitigationTarget struct {
	ViolationIDs        []string `json:"violationIds,omitempty"`
	SecurityProfileName string   `json:"securityProfileName,omitempty"`
	BehaviorName        string   `json:"behaviorName,omitempty"`
}

// DetectMitigationExecution is one action applied to one violation's thing.
type DetectMitigationExecution struct {
	TaskID, ViolationID, ActionName, ThingName string
	StartTime, EndTime                         time.Time
	Status                                     string // IN_PROGRESS, SUCCESSFUL, FAILED, SKIPPED
	ErrorCode, Message                         string
}

// DetectMitigationExecutionFilter is a ListDetectMitigationActionsExecutions
// request: TaskID, or a time range.
type DetectMitigationExecutionFilter struct {
	TaskID, ViolationID, ThingName string
	Start, End                     time.Time
}

// DetectMitigationStore keeps Detect mitigation tasks; their executions are
// applied by the engine, each exactly once.
type DetectMitigationStore interface {
	// StartDetectMitigationTask validates against stored data (actions
	// exist and are ADD_THINGS_TO_THING_GROUP, listed violations or the
	// profile exist), stores the task with one execution
	// per (violation, action), or ends it at once when it selects none.
	// The same id and token returns the stored task (created=false);
	// another token is TaskAlreadyExists, a token of another task
	// InvalidRequest.
	StartDetectMitigationTask(ctx context.Context, s Scope, t DetectMitigationTask, now time.Time) (stored DetectMitigationTask, created bool, err error)
	DetectMitigationTask(ctx context.Context, s Scope, taskID string) (DetectMitigationTask, error)
	DetectMitigationTasks(ctx context.Context, s Scope, start, end time.Time, p Page) (tasks []DetectMitigationTask, next string, err error)
	CancelDetectMitigationTask(ctx context.Context, s Scope, taskID string, now time.Time) error
	DetectMitigationExecutions(ctx context.Context, s Scope, f DetectMitigationExecutionFilter, p Page) (es []DetectMitigationExecution, next string, err error)

	// ApplyDetectMitigations applies at most max pending executions, each
	// in the transaction that records its outcome (exactly once, whichever
	// process runs it), and completes tasks with none left; worked is false
	// when there was nothing to do. opt.StrictRoles is as for audit tasks.
	ApplyDetectMitigations(ctx context.Context, now time.Time, max int, opt MitigationApplyOptions) (worked bool, err error)
	// PendingDetectExecutions, ApplyDetectExecution and FailDetectExecution
	// let the runner isolate an execution whose batch keeps failing: the
	// seqs of up to max pending executions, oldest first; one execution
	// applied as ApplyDetectMitigations would; one recorded FAILED with
	// errorCode and message, unapplied. The last two answer false when the
	// execution is no longer pending.
	PendingDetectExecutions(ctx context.Context, max int) (seqs []int64, err error)
	ApplyDetectExecution(ctx context.Context, seq int64, now time.Time, opt MitigationApplyOptions) (applied bool, err error)
	FailDetectExecution(ctx context.Context, seq int64, errorCode, message string, now time.Time) (failed bool, err error)
	// DetectMitigationWork receives a value when a task was started in this
	// process; engines also poll, for other processes.
	DetectMitigationWork() <-chan struct{}
}

// DeviceMetricsReport is a device's accepted metrics report as datapoints
// (detect.md §3): the broker parses and answers the report, the evaluator
// judges it.
type DeviceMetricsReport struct {
	Scope     Scope
	ThingName string
	ReportID  int64
	At        time.Time
	// Values maps metric names (aws:… device-side metrics, and custom
	// metric names as sent) to their datapoints.
	Values map[string]MetricValue
	// CustomTypes gives the report's custom_metrics kind per name
	// (ValueNumber, ValueNumbers, ValueStrings or ValueCidrs).
	CustomTypes map[string]string
}

// DeviceReportObserver receives accepted device metrics reports; like
// DataPlaneObserver it must not block.
type DeviceReportObserver interface {
	ObserveReport(r DeviceMetricsReport)
}
