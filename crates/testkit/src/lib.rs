//! Test support shared by the workspace's integration tests: a moto server for the whole test
//! binary, the workspace's built binaries, running the local pipeline against moto, and
//! throwaway projects. A dev-dependency only.

pub mod hostile;
pub mod s3;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The artifact credentials every run passes; no output may ever contain them.
pub const SECRET_KEY: &str = "cfnDeployerTestSecretKey0123456789abcdefXYZ";
/// The session token every run passes.
pub const SESSION_TOKEN: &str = "cfnDeployerTestSessionTokenIQoJb3JpZ2luX2VjEXAMPLE";

/// A moto server started for this test binary; it stops when the binary exits.
pub struct Moto {
    /// Its endpoint URL.
    pub endpoint: String,
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

/// The moto server, started on first use. `None` (the test is skipped) only when moto is not
/// installed and `CI` is not `true`; in CI a missing moto fails the test.
pub fn moto() -> Option<&'static Moto> {
    MOTO.get_or_init(start_moto).as_ref()
}

fn start_moto() -> Option<Moto> {
    let exe = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // The shell stops moto when this process exits and closes the pipe `cat` reads.
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(r#"command -v "$0" >/dev/null || exit 127; "$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 & pid=$!; cat >/dev/null; kill $pid"#)
        .arg(&exe)
        .arg(port.to_string())
        .arg(std::env::temp_dir().join(format!("cfn-deployer-moto-{port}.log")))
        .stdin(Stdio::piped())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) if ci => panic!("moto server is required in CI: cannot start a shell: {e}"),
        Err(e) => {
            eprintln!("skipped: cannot start moto ({e})");
            return None;
        }
    };
    // Keep stdin open for the life of the process.
    let child = Box::leak(Box::new(child));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            if ci {
                panic!("moto server is required in CI: `{exe}` exited ({status}); install moto[server] or set MOTO_SERVER");
            }
            eprintln!("skipped: `{exe}` is not available ({status}); install moto[server] or set MOTO_SERVER");
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto server did not listen on port {port} within 60 s");
}

/// Gets the moto server or skips the test (outside CI only).
#[macro_export]
macro_rules! moto_or_skip {
    () => {
        match $crate::moto() {
            Some(m) => m,
            None => return,
        }
    };
}

/// A binary of the workspace, built beside the running test (`target/<profile>/NAME`).
/// Cargo builds a package's own binaries for its tests only, so `./scripts/test` builds every
/// binary of the workspace first; a test run without them stops here saying so.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary inside target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests with `cargo test --workspace` (as ./scripts/test does), which builds every binary first",
        path.display()
    );
    path
}

/// What one local pipeline run printed.
#[derive(Debug)]
pub struct Run {
    /// Its exit code.
    pub code: i32,
    /// Everything it printed, the function's logs included.
    pub output: String,
    /// What it printed on stdout alone.
    pub stdout: String,
}

impl Run {
    /// The verdict line, without its mark: `SUCCEEDED: …`, `FAILED (Type): …`, `NOT REPORTED: …`.
    pub fn verdict(&self) -> Option<&str> {
        self.output
            .lines()
            .find_map(|l| l.strip_prefix("✔ ").or_else(|| l.strip_prefix("✘ ")))
    }

    /// Asserts the run failed with this failure type and a message containing `needle`.
    pub fn assert_failed(&self, kind: &str, needle: &str) {
        assert_eq!(self.code, 1, "{}", self.output);
        let line = self
            .verdict()
            .unwrap_or_else(|| panic!("no verdict line:\n{}", self.output));
        assert!(line.starts_with(&format!("FAILED ({kind})")), "{line}");
        assert!(line.contains(needle), "expected `{needle}` in: {line}");
    }

    /// Asserts the run succeeded.
    pub fn assert_succeeded(&self) {
        assert_eq!(self.code, 0, "{}", self.output);
        assert!(
            self.verdict().is_some_and(|v| v.starts_with("SUCCEEDED")),
            "{}",
            self.output
        );
    }

    /// The rows of the two-column table under the line `title` (its rows indented by two).
    fn table(&self, title: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        self.output
            .lines()
            .skip_while(|l| !title(l))
            .skip(1)
            .take_while(|l| l.starts_with("  ") && !l.starts_with("   "))
            .filter_map(|l| {
                let (k, v) = l.trim().split_once(' ')?;
                Some((k.to_owned(), v.trim().to_owned()))
            })
            .collect()
    }

    /// Whether the end of the run shows the stack output `key` with `value`.
    pub fn has_output(&self, key: &str, value: &str) -> bool {
        self.table(|l| l.starts_with("Outputs"))
            .iter()
            .any(|(k, v)| k == key && v == value)
    }

    /// How many times the function or the workers called `operation` (`Service:Operation`),
    /// as the run's last lines count them: `AWS calls by the function: 9
    /// (CloudFormation:CreateStack 1, …); …`.
    pub fn calls(&self, operation: &str) -> u64 {
        self.output
            .lines()
            .filter(|l| l.starts_with("AWS calls by the "))
            .filter_map(|l| Some(l.split_once(" (")?.1.split_once(");")?.0))
            .flat_map(|each| each.split(", "))
            .find_map(|c| c.strip_prefix(operation)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the action reported the output variable `key` with `value`.
    pub fn has_output_variable(&self, key: &str, value: &str) -> bool {
        self.output_variable(key).as_deref() == Some(value)
    }

    /// The output variable `key` the action reported.
    pub fn output_variable(&self, key: &str) -> Option<String> {
        let same = self
            .output
            .lines()
            .any(|l| l == "Outputs, also the action's output variables");
        let rows = if same {
            self.table(|l| l.starts_with("Outputs"))
        } else {
            self.table(|l| l == "Output variables")
        };
        rows.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether the output artifact holds a file `name`.
    pub fn has_artifact_file(&self, name: &str) -> bool {
        self.output
            .lines()
            .skip_while(|l| !l.starts_with("Output artifact "))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .any(|l| l.strip_prefix("  ") == Some(name))
    }
}

/// Runs `cfn-deployer-local` with `args` against moto, with the test credentials; checks that
/// nothing it or the function printed contains them.
pub fn run_local(moto: &Moto, args: &[&str]) -> Run {
    run_local_with(moto, args, &[])
}

/// [`run_local`] as a custom action: the job goes to `cfn-deployer-worker` processes.
pub fn run_worker(moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Run {
    let worker = bin("cfn-deployer-worker");
    let mut all = vec![
        "--worker",
        "--worker-binary",
        worker.to_str().expect("a UTF-8 path"),
    ];
    all.extend_from_slice(args);
    run_local_with(moto, &all, env)
}

/// [`run_local`] as a Step Functions execution of cfn-deployer's state machine.
pub fn run_sfn(moto: &Moto, args: &[&str]) -> Run {
    let mut all = vec!["--step-functions"];
    all.extend_from_slice(args);
    run_local_with(moto, &all, &[])
}

/// [`run_local`] with extra environment.
pub fn run_local_with(moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Run {
    // The function's log lines, which tests read too.
    let mut all = vec!["--verbose"];
    all.extend_from_slice(args);
    run_local_as_is(moto, &all, env)
}

/// [`run_local_with`] without `--verbose`: the output a person sees.
pub fn run_local_as_is(moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> Run {
    let function = bin("cfn-deployer");
    let out = Command::new(bin("cfn-deployer-local"))
        .args([
            "--function",
            function.to_str().expect("a UTF-8 path"),
            "--poll-interval",
            "0.2",
            "--timeout",
            "60",
        ])
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIACFNDEPLOYERTEST")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_CLOUDFORMATION")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run cfn-deployer-local");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !output.contains(SECRET_KEY),
        "the secret access key leaked:\n{output}"
    );
    assert!(
        !output.contains(SESSION_TOKEN),
        "the session token leaked:\n{output}"
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        output,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// A fresh folder holding the demo template, and optionally more files.
pub fn project(template: &str, extra: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "template.yaml", template.as_bytes());
    for (name, data) in extra {
        write(dir.path(), name, data);
    }
    dir
}

/// Writes a file, creating its folders.
pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .expect("write");
    path
}

/// A stack set's template for the tests: one parameter, `Release`, shown in an SSM parameter
/// of each instance.
pub const SET_TEMPLATE: &str = "AWSTemplateFormatVersion: \"2010-09-09\"
Parameters:
  Release:
    Type: String
Resources:
  Marker:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub \"/${AWS::StackName}/release\"
      Type: String
      Value: !Ref Release
";

/// The demo template, with its greeting set to `greeting`.
pub fn template(greeting: &str) -> String {
    include_str!("../../../examples/hello/template.yaml")
        .replace("Default: hello", &format!("Default: {greeting}"))
}

/// A CloudFormation client for moto at `endpoint`, with throwaway credentials.
pub async fn cloudformation(endpoint: &str) -> aws_sdk_cloudformation::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "t", "t", None, None, "t",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_cloudformation::Client::new(&sdk)
}

/// A CloudFormation client for moto at `endpoint` acting in `region` with the credentials of
/// `role`, assumed as the deployer assumes it: moto then acts in the role's account.
pub async fn cloudformation_as(
    endpoint: &str,
    role: &str,
    region: &str,
) -> aws_sdk_cloudformation::Client {
    let home = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "t", "t", None, None, "t",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    let given = aws_sdk_sts::Client::new(&home)
        .assume_role()
        .role_arn(role)
        .role_session_name("cfn-deployer-tests")
        .send()
        .await
        .expect("moto assumes the role")
        .credentials
        .expect("credentials");
    let sdk = home
        .to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(
            aws_sdk_cloudformation::config::SharedCredentialsProvider::new(
                aws_sdk_cloudformation::config::Credentials::new(
                    given.access_key_id,
                    given.secret_access_key,
                    Some(given.session_token),
                    None,
                    "t",
                ),
            ),
        )
        .build();
    aws_sdk_cloudformation::Client::new(&sdk)
}

/// A stack name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
