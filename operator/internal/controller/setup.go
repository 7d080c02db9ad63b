package controller

import (
	ctrl "sigs.k8s.io/controller-runtime"
)

// Setup adds the three controllers to a manager; image is the kafka-backup
// image a resource runs when it names none.
func Setup(mgr ctrl.Manager, image string) error {
	rec := mgr.GetEventRecorder("kafka-backup-operator")
	if err := (&KafkaBackupReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec,
		Image: image}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&KafkaRestoreReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec,
		Image: image, APIReader: mgr.GetAPIReader()}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&KafkaBackupValidationReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: rec,
		Image: image}).SetupWithManager(mgr)
}
