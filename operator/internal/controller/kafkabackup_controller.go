package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/render"
)

// KindBackup is the kind label value of what a KafkaBackup creates.
const KindBackup = "KafkaBackup"

// DefaultTimeZone is a schedule's time zone when the resource names none: a
// CronJob without one follows the controller manager's local time, which
// differs between clusters.
const DefaultTimeZone = "Etc/UTC"

// KafkaBackupReconciler turns a KafkaBackup into a ConfigMap with its rendered
// config and a CronJob (or, continuous, a Deployment) that runs it, and
// reports each finished run in the KafkaBackup's status.
type KafkaBackupReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	// Image is the kafka-backup image a resource gets when it names none.
	Image string
}

// +kubebuilder:rbac:groups=kafka.oso.sh,resources=kafkabackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=kafka.oso.sh,resources=kafkabackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings what a KafkaBackup runs in line with its spec, then its status with what ran.
func (r *KafkaBackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var kb v1.KafkaBackup
	if err := r.Get(ctx, req.NamespacedName, &kb); err != nil {
		// Deleted: the API server's garbage collector removes what it owned.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := kb.Status.DeepCopy()
	status.ObservedGeneration = kb.Generation
	gen := kb.Generation

	applyErr := r.apply(ctx, &kb, status)
	if applyErr != nil {
		setCondition(&status.Conditions, gen, v1.ConditionReady, false, reasonOf(applyErr), applyErr.Error())
	}
	setCondition(&status.Conditions, gen, v1.ConditionSuspended, kb.Spec.Suspend && !kb.Spec.Continuous,
		map[bool]string{true: "Suspended", false: "Scheduled"}[kb.Spec.Suspend && !kb.Spec.Continuous],
		map[bool]string{true: "spec.suspend is true: no new runs start", false: "new runs start on schedule"}[kb.Spec.Suspend && !kb.Spec.Continuous])

	if err := r.readRuns(ctx, &kb, status); err != nil {
		return ctrl.Result{}, err
	}
	if !equality.Semantic.DeepEqual(&kb.Status, status) {
		kb.Status = *status
		if err := r.Status().Update(ctx, &kb); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if applyErr != nil && !isPermanent(applyErr) {
		return ctrl.Result{}, applyErr
	}
	return ctrl.Result{}, nil
}

// apply creates or updates the ConfigMap and the CronJob or Deployment, and
// removes the one of the two the spec no longer asks for.
func (r *KafkaBackupReconciler) apply(ctx context.Context, kb *v1.KafkaBackup, status *v1.KafkaBackupStatus) error {
	gen := kb.Generation
	if !kb.Spec.Continuous {
		if _, err := cron.ParseStandard(kb.Spec.Schedule); err != nil {
			return permanent("InvalidSchedule", fmt.Errorf("spec.schedule %q: %v", kb.Spec.Schedule, err))
		}
	}
	text, err := render.BackupConfig(kb).Marshal()
	if err != nil {
		return err
	}
	cmName := kb.Name + "-config"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: kb.Namespace}}
	if err := r.own(ctx, kb, cm, func() {
		cm.Labels = render.Labels(KindBackup, kb.Name, "config")
		cm.Data = map[string]string{render.ConfigFile: text}
	}); err != nil {
		return err
	}
	status.ConfigMapName = cmName

	pod := render.Pod(r.podInput(kb, cmName), backupSteps(kb)...)
	if kb.Spec.Continuous {
		if err := r.remove(ctx, kb, &batchv1.CronJob{}); err != nil {
			return err
		}
		status.CronJobName = ""
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: kb.Name, Namespace: kb.Namespace}}
		sum := sha256.Sum256([]byte(text))
		pod.Annotations = withAnnotation(pod.Annotations, "kafka.oso.sh/config-sha256", hex.EncodeToString(sum[:]))
		if err := r.own(ctx, kb, dep, func() {
			dep.Labels = render.Labels(KindBackup, kb.Name, "backup")
			dep.Spec.Replicas = ptr.To[int32](1)
			// Never two followers of the same topics at once.
			dep.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
			dep.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{
				render.LabelOwnerKind: KindBackup, render.LabelOwnerName: kb.Name}}
			dep.Spec.Template = pod
		}); err != nil {
			return err
		}
		status.DeploymentName = dep.Name
		msg := fmt.Sprintf("Deployment %s follows the topics continuously (%d of 1 replicas ready)",
			dep.Name, dep.Status.ReadyReplicas)
		setCondition(&status.Conditions, gen, v1.ConditionReady, true, "Deployed", msg)
		return nil
	}

	if err := r.remove(ctx, kb, &appsv1.Deployment{}); err != nil {
		return err
	}
	status.DeploymentName = ""
	tz := DefaultTimeZone
	if kb.Spec.TimeZone != nil {
		tz = *kb.Spec.TimeZone
	}
	backoff := ptr.To[int32](1)
	if kb.Spec.BackoffLimit != nil {
		backoff = kb.Spec.BackoffLimit
	}
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: kb.Name, Namespace: kb.Namespace}}
	if err := r.own(ctx, kb, cj, func() {
		scheduled(cj, render.Labels(KindBackup, kb.Name, "backup"), kb.Spec.Schedule, tz, kb.Spec.Suspend,
			backoff, kb.Spec.ActiveDeadlineSeconds, pod)
	}); err != nil {
		return err
	}
	status.CronJobName = cj.Name
	status.LastScheduleTime = cj.Status.LastScheduleTime
	msg := fmt.Sprintf("CronJob %s runs %q (%s)", cj.Name, kb.Spec.Schedule, tz)
	setCondition(&status.Conditions, gen, v1.ConditionReady, true, "Scheduled", msg)
	return nil
}

// backupSteps is the backup, then, with a retention policy, the prune (which
// starts only when the backup succeeded).
func backupSteps(kb *v1.KafkaBackup) []render.Step {
	cfg := render.ConfigDir + "/" + render.ConfigFile
	steps := []render.Step{{Name: "backup", Args: []string{"backup", "--config", cfg}}}
	if kb.Spec.Retention != nil && !kb.Spec.Continuous {
		steps = append(steps, render.Step{Name: "prune", Args: []string{"prune", "--config", cfg}})
	}
	return steps
}

func (r *KafkaBackupReconciler) podInput(kb *v1.KafkaBackup, cm string) *render.PodInput {
	restart := corev1.RestartPolicyNever
	if kb.Spec.Continuous {
		restart = corev1.RestartPolicyAlways
	}
	return &render.PodInput{Image: r.Image, ConfigMapName: cm, Labels: render.Labels(KindBackup, kb.Name, "backup"),
		Cluster: &kb.Spec.KafkaCluster, Storage: &kb.Spec.Storage, Encryption: kb.Spec.Encryption,
		Run: &kb.Spec.RunTemplate, Metrics: kb.Spec.Metrics, RestartPolicy: restart}
}

// readRuns reports the newest finished Job in lastRun and the conditions, the
// newest successful one in lastSuccessfulBackup, with an event for each run
// not reported before.
func (r *KafkaBackupReconciler) readRuns(ctx context.Context, kb *v1.KafkaBackup, status *v1.KafkaBackupStatus) error {
	newest, newestOK, err := newestRuns(ctx, r.Client, kb.Namespace, KindBackup, kb.Name, "backup")
	if err != nil || newest == nil {
		return err
	}
	if newestOK != nil {
		status.LastSuccessfulBackup = newestOK
	}
	reported := status.LastRun != nil && status.LastRun.JobName == newest.JobName
	status.LastRun = newest
	report(r.Recorder, kb, &status.Conditions, kb.Generation, newest, !reported,
		v1.ConditionBackupSucceeded, v1.ConditionBackupFailed, "Backup")
	return nil
}

func (r *KafkaBackupReconciler) own(ctx context.Context, owner client.Object, obj client.Object, mutate func()) error {
	return own(ctx, r.Client, r.Scheme, owner, obj, mutate)
}

// own creates or updates obj, owned by owner, as mutate sets it; an object of
// that name that is not the owner's is left alone and reported.
func own(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner, obj client.Object, mutate func()) error {
	kind := fmt.Sprintf("%T", obj)
	op, err := controllerutil.CreateOrUpdate(ctx, c, obj, func() error {
		if obj.GetResourceVersion() != "" && !metav1.IsControlledBy(obj, owner) {
			return permanent("NameConflict", fmt.Errorf("%s %s exists and is not this resource's: rename one of the two",
				kind[1:], obj.GetName()))
		}
		mutate()
		return controllerutil.SetControllerReference(owner, obj, scheme)
	})
	if err != nil {
		return err
	}
	if op != controllerutil.OperationResultNone {
		log.FromContext(ctx).Info("applied", "object", kind[1:], "name", obj.GetName(), "operation", op)
	}
	return nil
}

// remove deletes the object of the owner's name and obj's kind, if the owner owns it.
func (r *KafkaBackupReconciler) remove(ctx context.Context, owner client.Object, obj client.Object) error {
	return remove(ctx, r.Client, owner, obj)
}

func remove(ctx context.Context, c client.Client, owner client.Object, obj client.Object) error {
	err := c.Get(ctx, types.NamespacedName{Namespace: owner.GetNamespace(), Name: owner.GetName()}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !metav1.IsControlledBy(obj, owner) {
		return nil
	}
	return client.IgnoreNotFound(c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)))
}

func withAnnotation(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// SetupWithManager watches KafkaBackups, what they own, and the Jobs their
// CronJobs make (labelled with the KafkaBackup's name).
func (r *KafkaBackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.KafkaBackup{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&batchv1.CronJob{}).
		Owns(&appsv1.Deployment{}).
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(byOwnerLabel(KindBackup))).
		Named("kafkabackup").
		Complete(r)
}

// byOwnerLabel maps an object labelled by the operator to the resource of kind that made it.
func byOwnerLabel(kind string) handler.MapFunc {
	return func(_ context.Context, obj client.Object) []reconcile.Request {
		l := obj.GetLabels()
		if l[render.LabelOwnerKind] != kind || l[render.LabelOwnerName] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(),
			Name: l[render.LabelOwnerName]}}}
	}
}

// permanentError is a problem of the spec that retrying does not fix: it is
// reported in the Ready condition, and the resource waits for a new spec.
type permanentError struct {
	reason string
	err    error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(reason string, err error) error { return &permanentError{reason: reason, err: err} }

// isPermanent is whether err is the spec's: a permanentError, or the API
// server refusing what the spec rendered (an unknown time zone, say).
func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || apierrors.IsInvalid(err)
}

func reasonOf(err error) string {
	var p *permanentError
	if errors.As(err, &p) {
		return p.reason
	}
	if apierrors.IsInvalid(err) {
		return "Invalid"
	}
	return "ApplyFailed"
}
