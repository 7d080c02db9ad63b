package controller

import (
	"context"
	"fmt"
	"time"

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
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1 "kafka-backup/operator/api/v1alpha1"
	"kafka-backup/operator/internal/render"
)

// KindRestore is the kind label value of what a KafkaRestore creates.
const KindRestore = "KafkaRestore"

// Phases of a KafkaRestore.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
)

// KafkaRestoreReconciler runs a KafkaRestore once, as a Job named after it:
// validate-restore, then restore (or three-phase-restore). A Job that exists is
// never made again, and a restore that ended is never run again, even when its
// Job is gone: re-applying the resource restores nothing twice (and the
// binary's own restore progress makes a retried pod resume, not repeat).
type KafkaRestoreReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	Image    string
	// APIReader reads around the cache, to tell a Job that is gone from one
	// the cache has not seen yet; the manager's GetAPIReader.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=kafka.oso.sh,resources=kafkarestores,verbs=get;list;watch
// +kubebuilder:rbac:groups=kafka.oso.sh,resources=kafkarestores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// Reconcile starts the restore's Job when there is none, and reports it when it ends.
func (r *KafkaRestoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var kr v1.KafkaRestore
	if err := r.Get(ctx, req.NamespacedName, &kr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := kr.Status.DeepCopy()
	status.ObservedGeneration = kr.Generation
	result, err := r.step(ctx, &kr, status)
	if !equality.Semantic.DeepEqual(&kr.Status, status) {
		kr.Status = *status
		if uerr := r.Status().Update(ctx, &kr); uerr != nil {
			return ctrl.Result{}, client.IgnoreNotFound(uerr)
		}
	}
	return result, err
}

func (r *KafkaRestoreReconciler) step(ctx context.Context, kr *v1.KafkaRestore, status *v1.KafkaRestoreStatus) (ctrl.Result, error) {
	gen := kr.Generation
	if status.Phase == PhaseSucceeded || status.Phase == PhaseFailed {
		return ctrl.Result{}, nil
	}
	var job batchv1.Job
	err := r.Get(ctx, types.NamespacedName{Namespace: kr.Namespace, Name: kr.Name}, &job)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	if apierrors.IsNotFound(err) && status.JobName != "" && r.APIReader != nil {
		err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: kr.Namespace, Name: kr.Name}, &job)
		if err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	if apierrors.IsNotFound(err) {
		if status.JobName != "" {
			// Started before and its Job is gone without an ending seen: do not
			// run it again behind the user's back.
			status.Phase = PhaseFailed
			setCondition(&status.Conditions, gen, v1.ConditionFailed, true, "JobDeleted",
				fmt.Sprintf("Job %s was deleted before it finished; create a new KafkaRestore to restore again "+
					"(one with the same restoreId resumes where this one stopped)", status.JobName))
			return ctrl.Result{}, nil
		}
		return r.start(ctx, kr, status)
	}
	if !metav1.IsControlledBy(&job, kr) {
		status.Phase = PhasePending
		setCondition(&status.Conditions, gen, v1.ConditionReady, false, "NameConflict",
			fmt.Sprintf("Job %s exists and is not this KafkaRestore's: delete it, or restore under another name", job.Name))
		return ctrl.Result{}, nil
	}
	status.JobName = job.Name
	done, _ := finished(&job)
	if !done {
		status.Phase = PhaseRunning
		setCondition(&status.Conditions, gen, v1.ConditionRunning, true, "JobRunning",
			fmt.Sprintf("Job %s runs validate-restore, then the restore", job.Name))
		return ctrl.Result{}, nil
	}
	run, err := RunOf(ctx, r.Client, &job, "restore")
	if err != nil {
		return ctrl.Result{}, err
	}
	status.Result = run
	if run.BackupID != "" {
		status.BackupID = run.BackupID
	}
	status.Phase = PhaseFailed
	if run.Result == "Succeeded" {
		status.Phase = PhaseSucceeded
	}
	setCondition(&status.Conditions, gen, v1.ConditionRunning, false, "JobFinished", describe(run))
	report(r.Recorder, kr, &status.Conditions, gen, run, true, v1.ConditionSucceeded, v1.ConditionFailed, "Restore")
	return ctrl.Result{}, nil
}

// start renders the config and creates the Job; a backupRef to a KafkaBackup
// not there yet leaves the restore pending and looks again later.
func (r *KafkaRestoreReconciler) start(ctx context.Context, kr *v1.KafkaRestore, status *v1.KafkaRestoreStatus) (ctrl.Result, error) {
	gen := kr.Generation
	storage, enc, backupID := kr.Spec.Storage, kr.Spec.Encryption, kr.Spec.BackupID
	if ref := kr.Spec.BackupRef; ref != nil {
		var kb v1.KafkaBackup
		err := r.Get(ctx, types.NamespacedName{Namespace: kr.Namespace, Name: ref.Name}, &kb)
		if apierrors.IsNotFound(err) {
			status.Phase = PhasePending
			setCondition(&status.Conditions, gen, v1.ConditionReady, false, "BackupNotFound",
				fmt.Sprintf("spec.backupRef.name: no KafkaBackup %q in namespace %s", ref.Name, kr.Namespace))
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		storage, enc, backupID = &kb.Spec.Storage, kb.Spec.Encryption, ref.BackupID
	}
	if backupID == "" {
		backupID = "latest"
	}
	cfg, err := render.RestoreConfig(kr, storage, enc, backupID)
	if err == nil {
		_, err = cfg.Marshal()
	}
	if err != nil {
		status.Phase = PhaseFailed
		setCondition(&status.Conditions, gen, v1.ConditionFailed, true, "InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	text, _ := cfg.Marshal()
	cmName := kr.Name + "-config"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: kr.Namespace}}
	if err := own(ctx, r.Client, r.Scheme, kr, cm, func() {
		cm.Labels = render.Labels(KindRestore, kr.Name, "config")
		cm.Data = map[string]string{render.ConfigFile: text}
	}); err != nil {
		return ctrl.Result{}, r.refused(kr, status, err)
	}
	path := render.ConfigDir + "/" + render.ConfigFile
	restore := "restore"
	if kr.Spec.ThreePhase {
		restore = "three-phase-restore"
	}
	labels := render.Labels(KindRestore, kr.Name, "restore")
	pod := render.Pod(&render.PodInput{Image: r.Image, ConfigMapName: cmName, Labels: labels,
		Cluster: &kr.Spec.KafkaCluster, Storage: storage, Encryption: enc, Run: &kr.Spec.RunTemplate,
		RestartPolicy: corev1.RestartPolicyNever},
		render.Step{Name: "validate-restore", Args: []string{"validate-restore", "--config", path}},
		render.Step{Name: "restore", Args: []string{restore, "--config", path}})
	backoff := ptr.To[int32](2)
	if kr.Spec.BackoffLimit != nil {
		backoff = kr.Spec.BackoffLimit
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: kr.Name, Namespace: kr.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{BackoffLimit: backoff, Template: pod}}
	if err := ctrl.SetControllerReference(kr, job, r.Scheme); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, r.refused(kr, status, err)
	}
	status.JobName = job.Name
	status.BackupID = backupID
	status.Phase = PhaseRunning
	setCondition(&status.Conditions, gen, v1.ConditionReady, true, "JobCreated",
		fmt.Sprintf("Job %s restores backup %s", job.Name, backupID))
	setCondition(&status.Conditions, gen, v1.ConditionRunning, true, "JobRunning",
		fmt.Sprintf("Job %s runs validate-restore, then the restore", job.Name))
	if r.Recorder != nil {
		r.Recorder.Eventf(kr, nil, corev1.EventTypeNormal, "RestoreStarted", "Restore",
			"Job %s restores backup %s", job.Name, backupID)
	}
	return ctrl.Result{}, nil
}

// refused reports what the API server would not take; a spec problem waits
// for a new resource (the spec is immutable), anything else is retried.
func (r *KafkaRestoreReconciler) refused(kr *v1.KafkaRestore, status *v1.KafkaRestoreStatus, err error) error {
	setCondition(&status.Conditions, kr.Generation, v1.ConditionReady, false, reasonOf(err), err.Error())
	if isPermanent(err) {
		status.Phase = PhaseFailed
		return nil
	}
	status.Phase = PhasePending
	return err
}

// SetupWithManager watches KafkaRestores and their Jobs.
func (r *KafkaRestoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.KafkaRestore{}).
		Owns(&batchv1.Job{}).
		Owns(&corev1.ConfigMap{}).
		Named("kafkarestore").
		Complete(r)
}
