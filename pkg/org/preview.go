package org

import (
	"context"
	"maps"
	"slices"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Preview is what a run over the whole organization would select, read as ListAccounts
// reads it but writing nothing (keyrotator preflight shows it before the first deploy).
type Preview struct {
	// Active are the organization's ACTIVE accounts; Selected those a run would process.
	Active, Selected []string
	// Excluded are the excluded ACTIVE accounts by the setting that excludes each
	// (EXCLUDE_ACCOUNTS, EXCLUDE_OUS, EXCLUDE_ACCOUNT_TAG).
	Excluded map[string][]string
	// NotActive are the IDs of Excluded (EXCLUDE_ACCOUNTS) that are no ACTIVE account of the
	// organization: a typo leaves the account meant processed.
	NotActive []string
}

// Preview lists the accounts and applies every exclusion as a run over the whole
// organization would, the exclusion tag read for each account that would otherwise run (a
// run reads it in each account's ScanAndRotate instead: TagReader).
func (l *Handler) Preview(ctx context.Context) (Preview, error) {
	ls, err := l.activeAccounts(ctx)
	if err != nil {
		return Preview{}, err
	}
	if ls.excluded, err = l.excludedByIDAndOU(ctx); err != nil {
		return Preview{}, err
	}
	selected, err := selectAccounts(ls, nil)
	if err != nil {
		return Preview{}, err
	}
	tagged, err := l.excludedByTag(ctx, selected)
	if err != nil {
		return Preview{}, err
	}
	maps.Copy(ls.excluded, tagged)
	selected = slices.DeleteFunc(selected, func(a workflow.Account) bool { _, ok := tagged[a.AccountID]; return ok })
	p := Preview{Excluded: map[string][]string{}}
	for _, a := range ls.active {
		p.Active = append(p.Active, a.AccountID)
		if e, ok := ls.excluded[a.AccountID]; ok {
			p.Excluded[e.setting] = append(p.Excluded[e.setting], a.AccountID)
		}
	}
	for _, a := range selected {
		p.Selected = append(p.Selected, a.AccountID)
	}
	for _, id := range l.Excluded {
		if !slices.Contains(p.Active, id) {
			p.NotActive = append(p.NotActive, id)
		}
	}
	return p, nil
}
