//! A group's dependency graph: which stack waits for which, checked for unknown names and
//! cycles once, when the group is read, and the wave each stack deploys in.

/// Why a group's dependencies cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A stack depends on an id the group does not have.
    #[error("stack `{stack}` depends on `{reference}`, which is not a stack of the group: the ids are {known}")]
    UnknownId {
        /// The stack that names it.
        stack: String,
        /// The id named.
        reference: String,
        /// The group's ids.
        known: String,
    },
    /// The stacks wait for each other in a circle: none could ever start.
    #[error("the stacks depend on each other in a cycle ({}): remove one of these dependencies", .0.join(" → "))]
    Cycle(Vec<String>),
}

/// Stacks by index, each with the indices it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    ids: Vec<String>,
    deps: Vec<Vec<usize>>,
    waves: Vec<usize>,
}

impl Graph {
    /// The graph of `stacks`: each id with the ids it depends on, in the order given.
    pub fn new(stacks: &[(String, Vec<String>)]) -> Result<Self, GraphError> {
        let ids: Vec<String> = stacks.iter().map(|(id, _)| id.clone()).collect();
        let index = |stack: &str, reference: &str| {
            ids.iter()
                .position(|id| id == reference)
                .ok_or_else(|| GraphError::UnknownId {
                    stack: stack.to_owned(),
                    reference: reference.to_owned(),
                    known: ids
                        .iter()
                        .map(|i| format!("`{i}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        };
        let mut deps = Vec::with_capacity(ids.len());
        for (id, on) in stacks {
            let mut list = on
                .iter()
                .map(|r| index(id, r))
                .collect::<Result<Vec<_>, _>>()?;
            list.sort_unstable();
            list.dedup();
            deps.push(list);
        }
        let waves = waves(&ids, &deps)?;
        Ok(Self { ids, deps, waves })
    }

    /// How many stacks.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id of stack `i`.
    pub fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }

    /// The stacks `i` depends on.
    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// The stacks that depend on `i`.
    pub fn dependents(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&j| self.deps[j].contains(&i))
    }

    /// The wave of stack `i`: 1 for a stack that depends on none, else one more than the
    /// latest wave it depends on.
    pub fn wave(&self, i: usize) -> usize {
        self.waves[i]
    }
}

/// A graph for tests: each id with the ids it depends on.
#[cfg(test)]
pub(crate) fn of(stacks: &[(&str, &[&str])]) -> Result<Graph, GraphError> {
    let owned: Vec<(String, Vec<String>)> = stacks
        .iter()
        .map(|(id, on)| (id.to_string(), on.iter().map(|s| s.to_string()).collect()))
        .collect();
    Graph::new(&owned)
}

/// Every stack's wave, or the first cycle found, spelled from a stack back to itself.
fn waves(ids: &[String], deps: &[Vec<usize>]) -> Result<Vec<usize>, GraphError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; ids.len()];
    let mut wave = vec![0usize; ids.len()];
    for root in 0..ids.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // An explicit stack of (node, next dependency to visit): no recursion, whatever the depth.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::Open;
                        path.push((dep, 0));
                    }
                    Mark::Open => {
                        let from = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|(n, _)| ids[*n].clone()).collect();
                        cycle.push(ids[dep].clone());
                        return Err(GraphError::Cycle(cycle));
                    }
                    Mark::Done => {}
                }
            } else {
                wave[node] = 1 + deps[node].iter().map(|&d| wave[d]).max().unwrap_or(0);
                mark[node] = Mark::Done;
                path.pop();
            }
        }
    }
    Ok(wave)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(stacks: &[(&str, &[&str])]) -> Result<Graph, GraphError> {
        of(stacks)
    }

    #[test]
    fn waves_follow_the_longest_chain() {
        let g = graph(&[
            ("api", &["data", "network"]),
            ("data", &["network"]),
            ("network", &[]),
        ])
        .expect("orders");
        assert_eq!((g.wave(0), g.wave(1), g.wave(2)), (3, 2, 1));
        assert_eq!(g.dependents(2).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(g.deps(0), &[1, 2]);
    }

    #[test]
    fn cycles_are_spelled_from_a_stack_back_to_itself() {
        let err = graph(&[("api", &["data"]), ("data", &["api"])]).expect_err("cycle");
        assert!(err.to_string().contains("api → data → api"), "{err}");
        let self_loop = graph(&[("a", &["a"])]).expect_err("cycle");
        assert_eq!(self_loop, GraphError::Cycle(vec!["a".into(), "a".into()]));
        let longer =
            graph(&[("a", &[]), ("b", &["c"]), ("c", &["d"]), ("d", &["b"])]).expect_err("cycle");
        assert_eq!(
            longer,
            GraphError::Cycle(vec!["b".into(), "c".into(), "d".into(), "b".into()])
        );
    }

    #[test]
    fn an_unknown_id_is_named_with_the_known_ones() {
        let err = graph(&[("api", &["dta"]), ("data", &[])]).expect_err("unknown");
        let text = err.to_string();
        assert!(
            text.contains("`dta`") && text.contains("`api`, `data`"),
            "{text}"
        );
    }

    #[test]
    fn a_long_chain_costs_no_recursion() {
        let ids: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
        let stacks: Vec<(String, Vec<String>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    id.clone(),
                    if i == 0 {
                        vec![]
                    } else {
                        vec![ids[i - 1].clone()]
                    },
                )
            })
            .collect();
        let g = Graph::new(&stacks).expect("a chain");
        assert_eq!(g.wave(4999), 5000);
    }
}
