package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Events are stored as core/v1 Event and served as core/v1 and
// events.k8s.io/v1 (upstream's conversion: regarding = involvedObject,
// note = message, deprecatedSource/FirstTimestamp/LastTimestamp/Count =
// source/firstTimestamp/lastTimestamp/count).

func eventStrategy() *typeStrategy {
	return &typeStrategy{namespaced: true, validate: validateEvent, columns: eventColumns(), row: eventRow, fields: eventFields}
}

type eventConverter struct{}

var _ Converter = eventConverter{}

var (
	coreV1   = schema.GroupVersion{Version: "v1"}
	eventsV1 = schema.GroupVersion{Group: "events.k8s.io", Version: "v1"}
)

func (eventConverter) Convert(obj runtime.Object, gv schema.GroupVersion) (runtime.Object, error) {
	switch e := obj.(type) {
	case *corev1.Event:
		switch gv {
		case coreV1:
			return e, nil
		case eventsV1:
			return eventToEventsV1(e), nil
		}
	case *eventsv1.Event:
		switch gv {
		case eventsV1:
			return e, nil
		case coreV1:
			return eventFromEventsV1(e), nil
		}
	}
	return nil, fmt.Errorf("convert %T to %s: not an event version", obj, gv)
}

func eventToEventsV1(in *corev1.Event) *eventsv1.Event {
	out := &eventsv1.Event{
		TypeMeta:                 typeMeta(eventsV1, "Event"),
		ObjectMeta:               *in.ObjectMeta.DeepCopy(),
		EventTime:                in.EventTime,
		ReportingController:      in.ReportingController,
		ReportingInstance:        in.ReportingInstance,
		Action:                   in.Action,
		Reason:                   in.Reason,
		Regarding:                in.InvolvedObject,
		Related:                  in.Related.DeepCopy(),
		Note:                     in.Message,
		Type:                     in.Type,
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	return out
}

func eventFromEventsV1(in *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		TypeMeta:            typeMeta(coreV1, "Event"),
		ObjectMeta:          *in.ObjectMeta.DeepCopy(),
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Action:              in.Action,
		Related:             in.Related.DeepCopy(),
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	return out
}
