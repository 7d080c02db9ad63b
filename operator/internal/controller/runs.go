// Package controller reconciles the kafka.oso.sh resources into ConfigMaps,
// CronJobs, Jobs and Deployments that run the kafka-backup binary, and reads
// each run's result back from its pod's termination message.
package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/render"
)

// ExitReason is the condition reason of each of the binary's exit codes
// (docs/exit-codes.md).
func ExitReason(code int32) string {
	switch code {
	case 0:
		return "Succeeded"
	case 1:
		return "InternalError"
	case 2:
		return "InvalidInput"
	case 3:
		return "NotFound"
	case 4:
		return "CorruptData"
	case 5:
		return "Unavailable"
	case 6:
		return "AuthenticationFailed"
	case 7:
		return "Conflict"
	case 8:
		return "LocalIOError"
	case 137:
		return "Killed"
	default:
		return fmt.Sprintf("ExitCode%d", code)
	}
}

// summary is the one-line JSON the binary writes with --summary-file.
type summary struct {
	Command  string   `json:"command"`
	ExitCode *int32   `json:"exit_code"`
	Error    string   `json:"error"`
	BackupID string   `json:"backup_id"`
	DrillID  string   `json:"drill_id"`
	Records  *int64   `json:"records"`
	Bytes    *int64   `json:"bytes"`
	Seconds  *float64 `json:"seconds"`
}

// finished is whether a Job has ended, and how.
func finished(job *batchv1.Job) (done, succeeded bool) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return true, true
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return true, false
		}
	}
	return false, false
}

// ownedJobs is the Jobs a resource's runs made, newest first.
func ownedJobs(ctx context.Context, c client.Client, ns, kind, name string) ([]batchv1.Job, error) {
	var jobs batchv1.JobList
	if err := c.List(ctx, &jobs, client.InNamespace(ns),
		client.MatchingLabels{render.LabelOwnerKind: kind, render.LabelOwnerName: name}); err != nil {
		return nil, fmt.Errorf("listing the Jobs of %s %s: %w", kind, name, err)
	}
	items := jobs.Items
	sort.Slice(items, func(i, j int) bool {
		ti, tj := items[i].CreationTimestamp, items[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return tj.Before(&ti)
		}
		return items[i].Name > items[j].Name
	})
	return items, nil
}

// RunOf is the result of a finished Job: the summary in the termination message
// of the step that ended it (the first that failed, else the one of steps its
// pod runs), else what the container status says.
func RunOf(ctx context.Context, c client.Client, job *batchv1.Job, steps ...string) (*v1.RunResult, error) {
	_, ok := finished(job)
	run := &v1.RunResult{JobName: job.Name, Result: "Failed", StartTime: job.Status.StartTime,
		CompletionTime: job.Status.CompletionTime}
	if ok {
		run.Result = "Succeeded"
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, fmt.Errorf("listing the pods of Job %s: %w", job.Name, err)
	}
	// The newest pod that terminated tells what happened (earlier ones were retries).
	sort.Slice(pods.Items, func(i, j int) bool {
		ti, tj := pods.Items[i].CreationTimestamp, pods.Items[j].CreationTimestamp
		return tj.Before(&ti)
	})
	for i := range pods.Items {
		state := terminatedStep(&pods.Items[i], steps, ok)
		if state == nil {
			continue
		}
		fill(run, state)
		return run, nil
	}
	if !ok {
		// No pod left to ask (deleted, or never started): the Job's own reason.
		for _, cond := range job.Status.Conditions {
			if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
				run.Reason, run.Message = cond.Reason, cond.Message
			}
		}
	}
	return run, nil
}

// terminatedStep is the state of the container that ended a pod's run: the
// first one that failed, else the first one named in steps.
func terminatedStep(pod *corev1.Pod, steps []string, succeeded bool) *corev1.ContainerStateTerminated {
	all := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...),
		pod.Status.ContainerStatuses...)
	if !succeeded {
		for i := range all {
			if t := all[i].State.Terminated; t != nil && t.ExitCode != 0 {
				return t
			}
		}
	}
	for i := range all {
		if t := all[i].State.Terminated; t != nil && slices.Contains(steps, all[i].Name) {
			return t
		}
	}
	return nil
}

// fill reads a terminated container into run: its summary when the message is
// one, else its exit code and the message (the log's tail, as the kubelet's
// FallbackToLogsOnError gives it) as is.
func fill(run *v1.RunResult, t *corev1.ContainerStateTerminated) {
	code := t.ExitCode
	run.ExitCode = &code
	run.Reason = ExitReason(code)
	var s summary
	msg := strings.TrimSpace(t.Message)
	if err := json.Unmarshal([]byte(msg), &s); err != nil || s.Command == "" {
		run.Message = lastLine(msg)
		return
	}
	if s.ExitCode != nil && *s.ExitCode != code && code == 0 {
		run.ExitCode = s.ExitCode
		run.Reason = ExitReason(*s.ExitCode)
	}
	if s.Command == "drill" && *run.ExitCode == 4 {
		// A drill's 4: what it read back, or the validation before it, failed a check.
		run.Reason = "DrillCheckFailed"
	}
	run.Message = s.Error
	run.BackupID = s.BackupID
	run.DrillID = s.DrillID
	run.Records = s.Records
	run.Bytes = s.Bytes
	if s.Seconds != nil {
		run.DurationSeconds = fmt.Sprintf("%.1f", *s.Seconds)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// setCondition sets a condition of a status, stamped with the generation seen.
func setCondition(conds *[]metav1.Condition, gen int64, typ string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason,
		Message: msg, ObservedGeneration: gen})
}

// describe is a run in one line, for events and condition messages.
func describe(run *v1.RunResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %s %s", run.JobName, strings.ToLower(run.Result))
	if run.BackupID != "" {
		fmt.Fprintf(&b, ": backup %s", run.BackupID)
	}
	if run.DrillID != "" {
		fmt.Fprintf(&b, ", drill %s", run.DrillID)
	}
	if run.Records != nil {
		fmt.Fprintf(&b, ", %d records", *run.Records)
	}
	if run.Bytes != nil {
		fmt.Fprintf(&b, ", %d bytes", *run.Bytes)
	}
	if run.DurationSeconds != "" {
		fmt.Fprintf(&b, " in %s s", run.DurationSeconds)
	}
	if run.ExitCode != nil && *run.ExitCode != 0 {
		fmt.Fprintf(&b, " (exit %d, %s)", *run.ExitCode, run.Reason)
	}
	if run.Message != "" {
		fmt.Fprintf(&b, ": %s", run.Message)
	}
	return b.String()
}

// newestRuns is the newest finished Job's run of a resource, and the newest
// successful one (nil when none is left). steps name the containers whose
// summary is the run's, one in each pod (a resource whose spec changed may
// have run another).
func newestRuns(ctx context.Context, c client.Client, ns, kind, name string, steps ...string) (newest, newestOK *v1.RunResult, err error) {
	jobs, err := ownedJobs(ctx, c, ns, kind, name)
	if err != nil {
		return nil, nil, err
	}
	for i := range jobs {
		done, ok := finished(&jobs[i])
		if !done {
			continue
		}
		run, err := RunOf(ctx, c, &jobs[i], steps...)
		if err != nil {
			return nil, nil, err
		}
		if newest == nil {
			newest = run
		}
		if ok {
			return newest, run, nil
		}
	}
	return newest, nil, nil
}

// report sets the pair of conditions a run decides (okType true and failType
// false when it succeeded, the other way round when not) and, when event,
// records an event on obj.
func report(rec recorder.EventRecorder, obj runtime.Object, conds *[]metav1.Condition, gen int64,
	run *v1.RunResult, event bool, okType, failType, action string) {
	ok := run.Result == "Succeeded"
	if ok {
		setCondition(conds, gen, okType, true, "Succeeded", describe(run))
		setCondition(conds, gen, failType, false, "Succeeded", "the newest run succeeded")
	} else {
		setCondition(conds, gen, okType, false, run.Reason, "the newest run failed")
		setCondition(conds, gen, failType, true, run.Reason, describe(run))
	}
	if !event || rec == nil {
		return
	}
	kind, reason := corev1.EventTypeNormal, okType
	if !ok {
		kind, reason = corev1.EventTypeWarning, failType
	}
	rec.Eventf(obj, nil, kind, reason, action, "%s", describe(run))
}

// scheduled sets a CronJob that runs pod on schedule.
func scheduled(cj *batchv1.CronJob, labels map[string]string, schedule, tz string, suspend bool,
	backoff *int32, deadline *int64, pod corev1.PodTemplateSpec) {
	cj.Labels = labels
	cj.Spec.Schedule = schedule
	cj.Spec.TimeZone = &tz
	cj.Spec.Suspend = &suspend
	// A run still going when the next is due makes the next wait: two runs
	// of the same work at once would each do what the other does.
	cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](600)
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](5)
	cj.Spec.JobTemplate.Labels = labels
	cj.Spec.JobTemplate.Spec.BackoffLimit = backoff
	cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds = deadline
	cj.Spec.JobTemplate.Spec.Template = pod
}
