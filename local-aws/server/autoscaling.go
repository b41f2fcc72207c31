package server

type aasState struct{}

func autoscalingService() *service                    { return &service{name: "autoscaling", ops: map[string]handler{}} }
func (st *State) seedAutoScaling(created interface{}) {}
