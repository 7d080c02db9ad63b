package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/render"
)

// KindValidation is the kind label value of what a KafkaBackupValidation creates.
const KindValidation = "KafkaBackupValidation"

// KafkaBackupValidationReconciler runs `kafka-backup validate` on a schedule
// against a KafkaBackup's storage (the seed's "Step 4": daily validation), or
// with spec.drill `kafka-backup drill` (docs/drills.md), as a CronJob, and
// reports each run.
type KafkaBackupValidationReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	Image    string
}

// +kubebuilder:rbac:groups=kafka.oso.sh,resources=kafkabackupvalidations,verbs=get;list;watch
// +kubebuilder:rbac:groups=kafka.oso.sh,resources=kafkabackupvalidations/status,verbs=get;update;patch

// Reconcile keeps the validation's CronJob in line with its spec and its KafkaBackup's storage.
func (r *KafkaBackupValidationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var kv v1.KafkaBackupValidation
	if err := r.Get(ctx, req.NamespacedName, &kv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := kv.Status.DeepCopy()
	status.ObservedGeneration = kv.Generation
	gen := kv.Generation
	result, applyErr := r.apply(ctx, &kv, status)
	if applyErr != nil {
		setCondition(&status.Conditions, gen, v1.ConditionReady, false, reasonOf(applyErr), applyErr.Error())
	}
	setCondition(&status.Conditions, gen, v1.ConditionSuspended, kv.Spec.Suspend,
		map[bool]string{true: "Suspended", false: "Scheduled"}[kv.Spec.Suspend],
		map[bool]string{true: "spec.suspend is true: no new runs start", false: "new runs start on schedule"}[kv.Spec.Suspend])

	newest, _, err := newestRuns(ctx, r.Client, kv.Namespace, KindValidation, kv.Name, "validate", "drill")
	if err != nil {
		return ctrl.Result{}, err
	}
	if newest != nil {
		reported := status.LastRun != nil && status.LastRun.JobName == newest.JobName
		status.LastRun = newest
		report(r.Recorder, &kv, &status.Conditions, gen, newest, !reported,
			v1.ConditionValidationSucceeded, v1.ConditionValidationFailed, "Validate")
	}
	if !equality.Semantic.DeepEqual(&kv.Status, status) {
		kv.Status = *status
		if err := r.Status().Update(ctx, &kv); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if applyErr != nil && !isPermanent(applyErr) {
		return ctrl.Result{}, applyErr
	}
	return result, nil
}

func (r *KafkaBackupValidationReconciler) apply(ctx context.Context, kv *v1.KafkaBackupValidation,
	status *v1.KafkaBackupValidationStatus) (ctrl.Result, error) {
	if _, err := cron.ParseStandard(kv.Spec.Schedule); err != nil {
		return ctrl.Result{}, permanent("InvalidSchedule", fmt.Errorf("spec.schedule %q: %v", kv.Spec.Schedule, err))
	}
	var kb v1.KafkaBackup
	err := r.Get(ctx, types.NamespacedName{Namespace: kv.Namespace, Name: kv.Spec.BackupRef.Name}, &kb)
	if apierrors.IsNotFound(err) {
		// Watched: the KafkaBackup's creation reconciles this again; the
		// requeue covers a cache that missed it.
		return ctrl.Result{RequeueAfter: time.Minute}, permanent("BackupNotFound",
			fmt.Errorf("spec.backupRef.name: no KafkaBackup %q in namespace %s", kv.Spec.BackupRef.Name, kv.Namespace))
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	backupID := kv.Spec.BackupRef.BackupID
	if backupID == "" {
		backupID = "latest"
	}
	cfg, step, what := validationRun(kv, &kb, backupID)
	text, err := cfg.Marshal()
	if err != nil {
		return ctrl.Result{}, err
	}
	cmName := kv.Name + "-config"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: kv.Namespace}}
	if err := own(ctx, r.Client, r.Scheme, kv, cm, func() {
		cm.Labels = render.Labels(KindValidation, kv.Name, "config")
		cm.Data = map[string]string{render.ConfigFile: text}
	}); err != nil {
		return ctrl.Result{}, err
	}
	labels := render.Labels(KindValidation, kv.Name, step.Name)
	in := &render.PodInput{Image: r.Image, ConfigMapName: cmName, Labels: labels,
		Storage: &kb.Spec.Storage, Encryption: kb.Spec.Encryption, Run: &kv.Spec.RunTemplate,
		RestartPolicy: corev1.RestartPolicyNever}
	if d := kv.Spec.Drill; d != nil {
		in.Cluster, in.DrillSigningKey = &d.Target, d.SigningKeySecretRef
	}
	pod := render.Pod(in, step)
	tz := DefaultTimeZone
	if kv.Spec.TimeZone != nil {
		tz = *kv.Spec.TimeZone
	}
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: kv.Name, Namespace: kv.Namespace}}
	if err := own(ctx, r.Client, r.Scheme, kv, cj, func() {
		// A validation or drill that fails says so; retrying it would only say so again.
		scheduled(cj, labels, kv.Spec.Schedule, tz, kv.Spec.Suspend, ptr.To[int32](0), nil, pod)
	}); err != nil {
		return ctrl.Result{}, err
	}
	status.CronJobName = cj.Name
	status.LastScheduleTime = cj.Status.LastScheduleTime
	setCondition(&status.Conditions, kv.Generation, v1.ConditionReady, true, "Scheduled",
		fmt.Sprintf("CronJob %s runs %s on %q (%s)", cj.Name, what, kv.Spec.Schedule, tz))
	return ctrl.Result{}, nil
}

// validationRun is what a validation's pods run: the config, the step and the
// run in words. `validate` of the backup or, with spec.drill, `drill`, whose
// report (--format json) goes to the pod's log.
func validationRun(kv *v1.KafkaBackupValidation, kb *v1.KafkaBackup, backupID string) (*render.Config, render.Step, string) {
	config := render.ConfigDir + "/" + render.ConfigFile
	of := fmt.Sprintf("of %s's backup %s", kb.Name, backupID)
	if d := kv.Spec.Drill; d != nil {
		return render.DrillConfig(kb, backupID, d),
			render.Step{Name: "drill", Args: []string{"drill", "--config", config, "--format", "json"}},
			"drill " + of + " into " + strings.Join(d.Target.BootstrapServers, ",")
	}
	step := render.Step{Name: "validate", Args: []string{"validate", "--config", config, "--backup-id", backupID}}
	what := "validate " + of
	if kv.Spec.Deep {
		step.Args = append(step.Args, "--deep")
		what = "validate --deep " + of
	}
	return render.ValidationConfig(kb, backupID), step, what
}

// SetupWithManager watches validations, what they own, their Jobs, and the
// KafkaBackups they name (whose storage their config copies).
func (r *KafkaBackupValidationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.KafkaBackupValidation{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&batchv1.CronJob{}).
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(byOwnerLabel(KindValidation))).
		Watches(&v1.KafkaBackup{}, handler.EnqueueRequestsFromMapFunc(r.validationsOf)).
		Named("kafkabackupvalidation").
		Complete(r)
}

func (r *KafkaBackupValidationReconciler) validationsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	var list v1.KafkaBackupValidationList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, kv := range list.Items {
		if kv.Spec.BackupRef.Name == obj.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: kv.Namespace, Name: kv.Name}})
		}
	}
	return out
}
