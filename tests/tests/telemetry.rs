//! What an operator sees in traces, read from a real OTLP receiver: each call's server span
//! after the RPC conventions, the database work as child spans after the database
//! conventions, no personal data in any attribute, and a call cut off by its deadline marked
//! as an error with its status code.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use fallwerk_intake::SERVICE;
use fallwerk_platform::auth::Role;
use fallwerk_proto::intake as pb;
use fallwerk_tests::{IntakeClient, ServiceApp, office::Office, token};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::{Span, status::StatusCode},
};

/// The spans every service of this test process exported.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().expect("spans");
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts the receiver and points the process's exporter at it, before any service starts
/// (the tracer provider is the process's, made once). Both live on a runtime of their own:
/// each test's runtime ends with the test, and with it whatever was spawned on it.
fn receiver() -> &'static Receiver {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let receiver = Receiver::default();
        let serving = receiver.clone();
        let (started, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let addr: SocketAddr = listener.local_addr().expect("addr");
                let server = tokio::spawn(
                    tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(serving))
                        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                            listener,
                        )),
                );
                fallwerk_tests::init_tracing_exporting_to(Some(&format!("http://{addr}")));
                started.send(()).expect("test waits");
                let _ = server.await;
            });
        });
        ready.recv().expect("the receiver started");
        receiver
    })
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

fn text(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key)? {
        Value::StringValue(s) => Some(s),
        other => Some(format!("{other:?}")),
    }
}

impl Receiver {
    /// Waits up to 10 s for the server span of `method` whose attribute `key` is `value`.
    async fn server_span(&self, method: &str, key: &str, value: Value) -> Span {
        for _ in 0..100 {
            let found = self
                .0
                .lock()
                .expect("spans")
                .iter()
                .rev()
                .find(|span| {
                    text(span, "rpc.method").as_deref() == Some(method)
                        && attribute(span, key).as_ref() == Some(&value)
                })
                .cloned();
            if let Some(span) = found {
                return span;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen: Vec<String> = self
            .0
            .lock()
            .expect("spans")
            .iter()
            .filter(|span| text(span, "rpc.method").as_deref() == Some(method))
            .map(|span| format!("{} {:?}", span.name, span.attributes))
            .collect();
        panic!("no server span of {method} with {key} = {value:?}; seen: {seen:?}");
    }

    fn children_of(&self, parent: &Span) -> Vec<Span> {
        self.0
            .lock()
            .expect("spans")
            .iter()
            .filter(|span| span.parent_span_id == parent.span_id)
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn a_call_is_one_server_span_with_its_database_work_as_children_and_no_personal_data() {
    let receiver = receiver();
    let office = Office::open().await;
    let applicant = office.applicant(&office.desk, "Telemetriefrau").await;
    let mut advisor = office.client(&office.advisor).await;
    advisor
        .get_applicant(pb::GetApplicantRequest {
            id: applicant.clone(),
        })
        .await
        .expect("read");

    let create = receiver
        .server_span(
            "CreateApplicant",
            "rpc.grpc.status_code",
            Value::IntValue(0),
        )
        .await;
    assert_eq!(
        text(&create, "rpc.service").as_deref(),
        Some("fallwerk.intake.v1.IntakeService")
    );
    assert_eq!(text(&create, "rpc.system").as_deref(), Some("grpc"));
    let children = receiver.children_of(&create);
    let names: Vec<&str> = children.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"INSERT intake.applicants"),
        "the insert is a child span: {names:?}"
    );
    assert!(names.contains(&"COMMIT intake"), "the commit: {names:?}");
    for span in children.iter().filter(|s| s.name != "connect") {
        assert_eq!(text(span, "db.system.name").as_deref(), Some("postgresql"));
        assert_eq!(text(span, "db.namespace").as_deref(), Some("intake"));
        assert!(text(span, "db.operation.name").is_some(), "{}", span.name);
    }

    // The audited read: its audit record's commit is a child too.
    let read = receiver
        .server_span("GetApplicant", "rpc.grpc.status_code", Value::IntValue(0))
        .await;
    let read_children: Vec<String> = receiver
        .children_of(&read)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(
        read_children.iter().any(|n| n == "INSERT intake.audit_log"),
        "{read_children:?}"
    );

    // No span anywhere carries the person's name.
    let spans = receiver.0.lock().expect("spans").clone();
    for span in &spans {
        for kv in &span.attributes {
            let value = format!("{:?}", kv.value);
            assert!(
                !value.contains("Telemetriefrau"),
                "{} carries personal data in {}",
                span.name,
                kv.key
            );
        }
    }
}

#[tokio::test]
async fn a_call_cut_off_by_the_servers_timeout_is_an_error_span_with_its_code() {
    let receiver = receiver();
    let app = ServiceApp::spawn_tuned(&SERVICE, |server| server.request_timeout_secs = 1).await;
    let lock = app.db.lock("intake.teams").await;
    let mut lead: IntakeClient = app.client(&token("lead-7", &[Role::TeamLead], None)).await;
    let cut = lead
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect_err("the server's timeout");
    assert_eq!(cut.code(), tonic::Code::DeadlineExceeded, "{cut:?}");
    drop(lock);

    let span = receiver
        .server_span(
            "ListTeams",
            "rpc.grpc.status_code",
            Value::IntValue(tonic::Code::DeadlineExceeded as i64),
        )
        .await;
    let status = span.status.expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
}
