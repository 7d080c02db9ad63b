package controller_test

// The kubelet's part, done by the tests (there is no node here): take the pod
// the Job controller made, run its init containers and its container in
// order as local processes, then write the pod's status as a kubelet would:
// each container's terminated state with its exit code and termination
// message, and the pod's phase. The Job controller then ends the Job.
//
// A container runs with what Kubernetes would give it: its command (the
// image's kafka-backup is the locally built binary, KAFKA_BACKUP_BIN) and
// args, its env and envFrom resolved from the Secrets, its ConfigMap volume
// written to a directory (paths under the mount point are mapped to it), and
// /dev/termination-log a file of its own; nothing of the test's environment
// but PATH, and what the caller gives as the node's identity (identityEnv).
//
// exitJobPod runs nothing: it reports the exit code and termination message
// it is given, for an outcome the local servers cannot be made to produce.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kafka-backup/operator/internal/render"
)

// ranContainer is what one container did.
type ranContainer struct {
	Name     string
	ExitCode int
	Message  string // the termination message
	Output   string // stdout and stderr: its log
}

// binary is the kafka-backup the containers run.
func binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KAFKA_BACKUP_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "..", "build", "kafka-backup")
	}
	abs, err := filepath.Abs(bin)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		t.Fatalf("no kafka-backup binary at %s (build it with scripts/build.sh, or set KAFKA_BACKUP_BIN): %v", bin, err)
	}
	return abs
}

// jobFromCronJob makes a Job from a CronJob's template, as
// `kubectl create job --from=cronjob/NAME` does: a run now, not on schedule.
func jobFromCronJob(t *testing.T, cj *batchv1.CronJob, name string) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cj.Namespace,
			Labels:      cj.Spec.JobTemplate.Labels,
			Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj,
				batchv1.SchemeGroupVersion.WithKind("CronJob"))}},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if err := k8s.Create(ctx, job); err != nil {
		t.Fatalf("creating Job %s from CronJob %s: %v", name, cj.Name, err)
	}
	return job
}

// runJobPod waits for the pod the Job controller makes for job, runs it and
// reports its end; it returns what each container did. identityEnv is what
// the cloud would add to the pod's environment without the manifest asking:
// on EKS, the IAM role's credentials (IRSA's webhook and the SDK's chain);
// here, the local S3 server's address and keys.
func runJobPod(t *testing.T, job *batchv1.Job, identityEnv ...string) []ranContainer {
	t.Helper()
	pod := pendingPod(t, job)
	return runPod(t, &pod, identityEnv)
}

// exitJobPod ends the pod the Job controller makes for job as a kubelet would
// report a pod whose one container exited with code after writing message to
// its termination log: a run whose outcome the local servers cannot be made
// to produce on demand (a drill whose read-back differs).
func exitJobPod(t *testing.T, job *batchv1.Job, code int32, message string) {
	t.Helper()
	pod := pendingPod(t, job)
	if len(pod.Spec.InitContainers) != 0 || len(pod.Spec.Containers) != 1 {
		t.Fatalf("pod %s: want one container", pod.Name)
	}
	c := pod.Spec.Containers[0]
	now := metav1.Now()
	status := pod.Status.DeepCopy()
	status.StartTime = &now
	status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, ImageID: "local://exit",
		ContainerID: "local://" + pod.Name + "/0",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: message,
			StartedAt: now, FinishedAt: now, Reason: map[bool]string{true: "Completed", false: "Error"}[code == 0]}}}}
	status.Phase = map[bool]corev1.PodPhase{true: corev1.PodSucceeded, false: corev1.PodFailed}[code == 0]
	writePodStatus(t, &pod, status)
}

// pendingPod is the pod the Job controller made for job, once there, not yet run.
func pendingPod(t *testing.T, job *batchv1.Job) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	eventually(t, 60*time.Second, "the Job controller's pod of Job "+job.Name, func() error {
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(job.Namespace),
			client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodPending || p.Status.Phase == "" {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("%d pods, none pending", len(pods.Items))
	})
	return pod
}

func runPod(t *testing.T, pod *corev1.Pod, identityEnv []string) []ranContainer {
	t.Helper()
	bin := binary(t)
	root := t.TempDir()
	mounts := map[string]string{} // mount path -> local directory
	for _, vol := range pod.Spec.Volumes {
		dir := filepath.Join(root, "volumes", vol.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if cm := vol.ConfigMap; cm != nil {
			var obj corev1.ConfigMap
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: cm.Name}, &obj); err != nil {
				t.Fatalf("pod %s: ConfigMap volume %s: %v", pod.Name, cm.Name, err)
			}
			for k, v := range obj.Data {
				if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			for _, m := range c.VolumeMounts {
				if m.Name == vol.Name {
					mounts[m.MountPath] = dir
				}
			}
		}
	}

	now := metav1.Now()
	status := pod.Status.DeepCopy()
	status.StartTime = &now
	status.InitContainerStatuses, status.ContainerStatuses = nil, nil
	var ran []ranContainer
	failed := false
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for i, c := range all {
		var cs corev1.ContainerStatus
		if failed {
			// A failed init container stops the pod: the rest never start.
			cs = corev1.ContainerStatus{Name: c.Name, Image: c.Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
		} else {
			r := runContainer(t, bin, pod, &c, mounts, filepath.Join(root, "termination-"+c.Name), identityEnv)
			ran = append(ran, r)
			done := metav1.Now()
			cs = corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "local://" + bin,
				ContainerID: fmt.Sprintf("local://%s/%d", pod.Name, i),
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: int32(r.ExitCode), Message: r.Message, StartedAt: now, FinishedAt: done,
					Reason: map[bool]string{true: "Completed", false: "Error"}[r.ExitCode == 0]}}}
			failed = r.ExitCode != 0
		}
		if i < len(pod.Spec.InitContainers) {
			status.InitContainerStatuses = append(status.InitContainerStatuses, cs)
		} else {
			status.ContainerStatuses = append(status.ContainerStatuses, cs)
		}
	}
	status.Phase = corev1.PodSucceeded
	if failed {
		status.Phase = corev1.PodFailed
	}
	writePodStatus(t, pod, status)
	return ran
}

// writePodStatus writes a pod's status, as its kubelet does.
func writePodStatus(t *testing.T, pod *corev1.Pod, status *corev1.PodStatus) {
	t.Helper()
	var fresh corev1.Pod
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &fresh); err != nil {
		t.Fatal(err)
	}
	fresh.Status = *status
	if err := k8s.Status().Update(ctx, &fresh); err != nil {
		t.Fatalf("writing the status of pod %s: %v", pod.Name, err)
	}
}

// runContainer runs one container's command as a local process.
func runContainer(t *testing.T, bin string, pod *corev1.Pod, c *corev1.Container, mounts map[string]string,
	terminationLog string, identityEnv []string) ranContainer {
	t.Helper()
	mapPath := func(arg string) string {
		if arg == c.TerminationMessagePath || (c.TerminationMessagePath == "" && arg == render.TerminationLog) {
			return terminationLog
		}
		for mount, dir := range mounts {
			if arg == mount || strings.HasPrefix(arg, mount+"/") {
				return dir + strings.TrimPrefix(arg, mount)
			}
		}
		return arg
	}
	if len(c.Command) != 1 || c.Command[0] != render.Binary {
		t.Fatalf("container %s runs %v; the image's binary is %s", c.Name, c.Command, render.Binary)
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = mapPath(a)
	}
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(terminationLog)}, identityEnv...)
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil {
			t.Fatalf("container %s: envFrom other than a Secret", c.Name)
		}
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: from.SecretRef.Name}, &s); err != nil {
			t.Fatalf("container %s: envFrom Secret %s: %v", c.Name, from.SecretRef.Name, err)
		}
		for k, v := range s.Data {
			env = append(env, from.Prefix+k+"="+string(v))
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			var s corev1.Secret
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, &s); err != nil {
				t.Fatalf("container %s: env %s from Secret %s: %v", c.Name, e.Name, ref.Name, err)
			}
			v, ok := s.Data[ref.Key]
			if !ok {
				t.Fatalf("container %s: env %s: Secret %s has no key %s", c.Name, e.Name, ref.Name, ref.Key)
			}
			env = append(env, e.Name+"="+string(v))
		default:
			t.Fatalf("container %s: env %s from something other than a Secret key", c.Name, e.Name)
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(terminationLog)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("container %s: %v", c.Name, err)
	}
	msg, _ := os.ReadFile(terminationLog)
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	message := string(msg)
	if message == "" && code != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		// The kubelet's fallback: the log's last 80 lines, at most 2048 bytes.
		message = lastLines(out.String(), 80)
		if len(message) > 2048 {
			message = message[len(message)-2048:]
		}
	}
	return ranContainer{Name: c.Name, ExitCode: code, Message: message, Output: out.String()}
}
