//! Stack groups, for every front: the manifest read and checked, the stacks deployed in
//! dependency order through the engine's one-stack steps, each updated stack recorded first,
//! and on a failure every stack the run changed put back. A front sees only [`Resume`],
//! [`Ended`](crate::Ended)'s group arms and the [`GroupReport`].

mod member;
mod moved;
mod run;

use cfn_deployer_engine::group::GroupState;

use run::{fresh, Run};

use std::time::Duration;

use cfn_deployer_engine::group::OnStackFailure;
use cfn_deployer_engine::FailureKind;
use cfn_deployer_params::{GroupRequest, Manifest};
use tracing::info;

use crate::ended::{Ended, POLICY_OFF};
use crate::error::{Failing, StepError};
use crate::prepare::{FileReader, Role};
use crate::step::{Front, Stepper};

impl Stepper {
    /// One step of a stack group: its manifest read and checked (and, before the first step,
    /// every template found), then the run advanced.
    pub(crate) async fn group<F: Front>(
        &self,
        front: &F,
        arrival: &F::Arrival,
        request: &GroupRequest,
        state: Option<GroupState>,
        budget: Option<Duration>,
    ) -> Result<Ended, F::Error> {
        let files = front.files(arrival);
        let place = files.place(&request.manifest);
        let bytes = files
            .read(&request.manifest, Role::Manifest)
            .await
            .map_err(|e| StepError::ManifestUnread {
                kind: settled_by_config(e.kind()),
                message: e.to_string(),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| StepError::Manifest {
            file: place.clone(),
            problem: "is not UTF-8 text: write it in YAML or JSON".into(),
        })?;
        let mut manifest =
            Manifest::parse(&text, &request.manifest, request.front).map_err(|e| {
                StepError::Manifest {
                    file: place.clone(),
                    problem: e.to_string(),
                }
            })?;
        // The action's DriftCheck, then the deployment's, is the default of the stacks for
        // which the manifest sets none.
        for entry in &mut manifest.stacks {
            let own = &mut entry.params.settings.drift_check;
            *own = own
                .or(request.drift_check)
                .or(Some(self.settings.drift_check));
            entry.params.target = entry.params.target.or(&request.target);
        }
        let state = match state {
            Some(state)
                if state.digest != manifest.digest
                    || state.members.len() != manifest.stacks.len() =>
            {
                return Err(StepError::GroupChanged { file: place }.into())
            }
            Some(state) => state,
            None => {
                let rollback = manifest.on_failure == OnStackFailure::RollbackGroup;
                if !request.delete && rollback && self.settings.staging_bucket.is_none() {
                    return Err(StepError::GroupNeedsBucket.into());
                }
                if !request.delete {
                    // Every template found before the first call, read side by side.
                    let reads = manifest.stacks.iter().filter_map(|entry| {
                        let template = entry.params.template.as_ref()?;
                        let files = &files;
                        Some(async move { (entry, files.read(template, Role::Template).await) })
                    });
                    for (entry, read) in futures_util::future::join_all(reads).await {
                        if let Err(e) = read {
                            return Err(StepError::GroupStack {
                                id: entry.id.clone(),
                                kind: settled_by_config(e.kind()),
                                message: e.to_string(),
                            }
                            .into());
                        }
                    }
                }
                info!(stacks = manifest.stacks.len(), digest = %manifest.digest, "stack group run starting");
                fresh(front.request_id(arrival), &manifest, request.delete)
            }
        };
        drop(files);
        // Every stack's role is checked before any is assumed, and before any stack moves.
        let refused = |entry: &cfn_deployer_params::Entry, e: StepError| StepError::GroupStack {
            id: entry.id.clone(),
            kind: e.kind(),
            message: e.to_string(),
        };
        for entry in &manifest.stacks {
            self.check_target(&entry.params.target)
                .map_err(|e| refused(entry, *e))?;
        }
        let mut deployers = Vec::with_capacity(manifest.stacks.len());
        for entry in &manifest.stacks {
            let deployer = self
                .deployer_for(&entry.params.target, front.request_id(arrival))
                .await
                .map_err(|e| refused(entry, e))?;
            deployers.push(deployer);
        }
        let run = Run::new(self, front, arrival, request, manifest, state, deployers);
        let ended = run.advance(self.settings.pace, budget).await;
        Ok(match ended {
            Ended::GroupInProgress {
                state,
                summary,
                percent,
                stack_id,
            } => Ended::GroupInProgress {
                state,
                summary: self.policy_said(summary),
                percent,
                stack_id,
            },
            Ended::GroupSucceeded { summary, report } => Ended::GroupSucceeded {
                summary: self.policy_said(summary),
                report,
            },
            other => other,
        })
    }

    pub(crate) fn policy_said(&self, summary: String) -> String {
        if self.settings.role_policy_on() {
            summary
        } else {
            format!("{summary}; {POLICY_OFF}")
        }
    }
}

/// What kind of failure a file the group needs and cannot read is: a permission refused stays
/// one; anything else (no such artifact, no such file) is the configuration's to fix.
fn settled_by_config(kind: FailureKind) -> FailureKind {
    match kind {
        FailureKind::Permission => FailureKind::Permission,
        _ => FailureKind::Configuration,
    }
}
