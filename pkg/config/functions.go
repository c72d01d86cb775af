package config

import "slices"

// FunctionVariables are the variables one Lambda function receives (Reads) and, of those,
// the ones it cannot start without (Requires).
type FunctionVariables struct{ Reads, Requires []string }

// Functions is Table by function name (statemachine): which variables each function
// receives and requires. The CDK app sets each function's environment from it
// (infra/contract.FunctionEnv), the local runner gives each function only these, as Lambda
// does, and each function's start (pkg/boot) checks its required ones. Accounts excluded by
// ID or OU are filtered by ListAccounts, which every execution starts with; the exclusion tag
// is read by each account's ScanAndRotate, before anything is assumed in the account.
var Functions = func() map[string]FunctionVariables {
	functions := map[string]FunctionVariables{}
	for _, s := range Table {
		for _, f := range s.Readers {
			vars := functions[f]
			vars.Reads = append(vars.Reads, s.Variable)
			if slices.Contains(s.Requirers, f) {
				vars.Requires = append(vars.Requires, s.Variable)
			}
			functions[f] = vars
		}
	}
	return functions
}()
