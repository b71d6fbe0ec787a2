//! What the engine reads of a template itself: how many resources it declares, for progress.

/// How many resources a template declares (JSON or YAML, CloudFormation's short-form tags
/// included); `None` when it cannot be read, in which case progress is reported without counts.
pub fn resource_count(template: &str) -> Option<u32> {
    let docs = yaml_rust2::YamlLoader::load_from_str(template).ok()?;
    match &docs.first()?["Resources"] {
        yaml_rust2::Yaml::Hash(resources) => u32::try_from(resources.len()).ok(),
        _ => None,
    }
}
