//! The declarations every service writes the same way: typed ids (a `CaseId` cannot be passed
//! where an `AdvisorId` is meant), enums stored as text, their mapping to the contract's enums,
//! and the wiring of a gRPC service trait to its handlers.

/// Declares UUID newtypes with a doc comment each: `id_type!(/// A visit. VisitId, ...)`.
/// Each is time-ordered when generated (UUIDv7), printed as the plain UUID, and stored as a
/// PostgreSQL `uuid` (the declaring crate depends on `sqlx` and `uuid`).
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> uuid::Uuid {
                id.0
            }
        }
    )*};
}

/// Declares an enum stored as text: `stored_enum!(/// What. Name { /// Doc. Variant = "name", ... })`.
/// The names are the database values (a CHECK constraint in the migration allows exactly
/// these); reading any other value is an error, never a silent default.
///
/// The enum is a PostgreSQL `text` value to sqlx, so the query macros read it with a column
/// override (`state AS "state: VisitState"`) and bind it directly (the declaring crate depends
/// on `sqlx`).
#[macro_export]
macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        // Ordered as declared, so sets of them iterate in a stable, meaningful order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'_, sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    };
}

/// Maps a domain enum to and from its protobuf enum, variant by variant with the same names
/// (prost strips the proto prefix): `wire_enum!(domain::Barrier, pb::Barrier, [Childcare, ...])`.
/// The matches are exhaustive, so a value added to either side is a compile error here, never
/// a silent catch-all. `*_UNSPECIFIED` has no domain value.
#[macro_export]
macro_rules! wire_enum {
    ($domain:ty, $proto:ty, [$($variant:ident),+ $(,)?]) => {
        impl From<$domain> for $proto {
            fn from(value: $domain) -> $proto {
                match value {
                    $(<$domain>::$variant => <$proto>::$variant),+
                }
            }
        }

        impl TryFrom<$proto> for $domain {
            type Error = ();
            fn try_from(value: $proto) -> Result<$domain, ()> {
                match value {
                    $(<$proto>::$variant => Ok(<$domain>::$variant),)+
                    <$proto>::Unspecified => Err(()),
                }
            }
        }
    };
}

/// Implements a generated gRPC service trait by forwarding each RPC to the inherent method of
/// the same name, `async fn rpc(&self, caller: &Caller, request) -> Result<Response, ApiError>`:
/// the caller (authenticated, with its method resolved by the request layer) is handed over
/// and every error is mapped to a rich status in one place.
///
/// ```text
/// grpc_handlers! { Intake: IntakeService {
///     create_applicant(pb::CreateApplicantRequest) -> pb::CreateApplicantResponse;
/// } }
/// ```
///
/// A server-streaming RPC names its stream type first and answers it:
/// `[type WatchStream = ReceiverStream<Result<pb::Change, Status>>;]` then
/// `watch(pb::WatchRequest) -> Self::WatchStream;`.
#[macro_export]
macro_rules! grpc_handlers {
    ($service:ident: $trait:path {
        $([type $stream:ident = $stream_type:ty;])*
        $($rpc:ident($request:ty) -> $response:ty;)*
    }) => {
        #[tonic::async_trait]
        impl $trait for $service {
            $(type $stream = $stream_type;)*
            $(
                async fn $rpc(
                    &self,
                    request: tonic::Request<$request>,
                ) -> Result<tonic::Response<$response>, tonic::Status> {
                    let caller = $crate::auth::Caller::of(&request)?;
                    $service::$rpc(self, &caller, request.into_inner())
                        .await
                        .map(tonic::Response::new)
                        .map_err(tonic::Status::from)
                }
            )*
        }
    };
}
