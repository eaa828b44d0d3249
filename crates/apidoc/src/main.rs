//! `fallwerk-apidoc <dir>`: the API reference of every `fallwerk.*` package as Markdown, one
//! file per package and an index, from the descriptor set the services serve by reflection.
//! Everything comes from the `.proto` files: their comments, field behaviour and types. `make
//! api-docs` writes `docs/api/`; `make proto-check` fails when the committed files differ.

use std::{collections::BTreeMap, fmt::Write as _, fs, path::PathBuf, process::ExitCode};

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, ExtensionDescriptor, FieldDescriptor,
    FileDescriptor, Kind, MessageDescriptor, ServiceDescriptor, Value,
};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: fallwerk-apidoc <output dir>");
        return ExitCode::from(2);
    };
    match write_docs(&dir) {
        Ok(count) => {
            println!("apidoc: {count} files written to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("apidoc: {error}");
            ExitCode::FAILURE
        }
    }
}

fn write_docs(dir: &PathBuf) -> Result<usize, Box<dyn std::error::Error>> {
    let pool = DescriptorPool::decode(fallwerk_proto::FILE_DESCRIPTOR_SET)?;
    let behavior = pool
        .get_extension_by_name("google.api.field_behavior")
        .ok_or("the descriptor set lacks google.api.field_behavior")?;
    let mut packages: BTreeMap<String, Vec<FileDescriptor>> = BTreeMap::new();
    for file in pool.files() {
        if file.package_name().starts_with("fallwerk.") {
            packages
                .entry(file.package_name().to_owned())
                .or_default()
                .push(file);
        }
    }
    fs::create_dir_all(dir)?;
    let docs = Docs { behavior };
    for (package, files) in &packages {
        fs::write(
            dir.join(format!("{package}.md")),
            docs.package(package, files),
        )?;
    }
    fs::write(dir.join("README.md"), index(&packages))?;
    Ok(packages.len() + 1)
}

/// The index: every package with its services and a line on the error model.
fn index(packages: &BTreeMap<String, Vec<FileDescriptor>>) -> String {
    let mut out = String::from(
        "# fallwerk API reference\n\n\
         Generated from `proto/` by `make api-docs` (crates/apidoc); do not edit. The guide for \
         integrators is [docs/integrating.md](../integrating.md). Errors: \
         [fallwerk.type.v1.ErrorReason](fallwerk.type.v1.md#fallwerk.type.v1.ErrorReason) \
         describes the model; each service's package lists its own reasons.\n\n\
         | Package | Services | Files |\n|---|---|---|\n",
    );
    for (package, files) in packages {
        let services: Vec<String> = files
            .iter()
            .flat_map(|f| f.services())
            .map(|s| format!("{} ({} RPCs)", s.name(), s.methods().len()))
            .collect();
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        let _ = writeln!(
            out,
            "| [{package}]({package}.md) | {} | {} |",
            services.join(", "),
            names.join(", ")
        );
    }
    out
}

struct Docs {
    behavior: ExtensionDescriptor,
}

impl Docs {
    fn package(&self, package: &str, files: &[FileDescriptor]) -> String {
        let mut out = format!(
            "# {package}\n\nGenerated from {} by `make api-docs`; do not edit.\n",
            files
                .iter()
                .map(|f| format!("`proto/{}`", f.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for file in files {
            for service in file.services() {
                self.service(&mut out, &service);
            }
        }
        for file in files {
            for message in file.messages() {
                self.message(&mut out, package, &message);
            }
            for enumeration in file.enums() {
                enum_section(&mut out, &enumeration);
            }
        }
        out
    }

    fn service(&self, out: &mut String, service: &ServiceDescriptor) {
        let file = service.parent_file();
        let _ = write!(
            out,
            "\n{}\n## Service {}\n\n{}\n",
            anchor(service.full_name()),
            service.name(),
            comment(&file, service.path())
        );
        for method in service.methods() {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let _ = write!(
                out,
                "\n### {}\n\n`{}` ({}{}) returns ({}{})\n\n{}\n",
                method.name(),
                method.name(),
                stream(method.is_client_streaming()),
                type_link(service.package_name(), &method.input()),
                stream(method.is_server_streaming()),
                type_link(service.package_name(), &method.output()),
                comment(&file, method.path())
            );
        }
    }

    fn message(&self, out: &mut String, package: &str, message: &MessageDescriptor) {
        if message.is_map_entry() {
            return;
        }
        let file = message.parent_file();
        let _ = write!(
            out,
            "\n{}\n## {}\n\n{}\n",
            anchor(message.full_name()),
            relative_name(message.full_name(), package),
            comment(&file, message.path())
        );
        if message.fields().len() > 0 {
            out.push_str("\n| Field | Type | Behaviour | Description |\n|---|---|---|---|\n");
            for field in message.fields() {
                let _ = writeln!(
                    out,
                    "| `{}` = {} | {} | {} | {} |",
                    field.name(),
                    field.number(),
                    field_type(package, &field),
                    self.field_behavior(&field),
                    cell(&comment(&file, field.path()))
                );
            }
        }
        for nested in message.child_messages() {
            self.message(out, package, &nested);
        }
        for enumeration in message.child_enums() {
            enum_section(out, &enumeration);
        }
    }

    /// The field's `google.api.field_behavior` values, e.g. `REQUIRED`.
    fn field_behavior(&self, field: &FieldDescriptor) -> String {
        let options = field.options();
        if !options.has_extension(&self.behavior) {
            return String::new();
        }
        let Kind::Enum(kind) = self.behavior.kind() else {
            return String::new();
        };
        match options.get_extension(&self.behavior).as_ref() {
            Value::List(values) => values
                .iter()
                .filter_map(|v| v.as_enum_number())
                .map(|n| {
                    kind.get_value(n)
                        .map_or(n.to_string(), |v| v.name().to_owned())
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        }
    }
}

fn enum_section(out: &mut String, enumeration: &EnumDescriptor) {
    let file = enumeration.parent_file();
    let package = enumeration.package_name();
    let _ = write!(
        out,
        "\n{}\n## {} (enum)\n\n{}\n\n| Value | Number | Description |\n|---|---|---|\n",
        anchor(enumeration.full_name()),
        relative_name(enumeration.full_name(), package),
        comment(&file, enumeration.path())
    );
    for value in enumeration.values() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            value.name(),
            value.number(),
            cell(&comment(&file, value.path()))
        );
    }
}

/// The leading comment of the element at `path` in `file`, as written in the `.proto`.
fn comment(file: &FileDescriptor, path: &[i32]) -> String {
    file.file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.as_deref())
        .map(|text| {
            text.lines()
                .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

/// A comment fit for one table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn anchor(full_name: &str) -> String {
    format!("<a id=\"{full_name}\"></a>")
}

fn relative_name<'a>(full_name: &'a str, package: &str) -> &'a str {
    full_name
        .strip_prefix(package)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(full_name)
}

/// A message or enum by name, linked when it is documented here.
fn named_link(from_package: &str, full_name: &str, package: &str) -> String {
    if !package.starts_with("fallwerk.") {
        return format!("`{full_name}`");
    }
    let page = if package == from_package {
        String::new()
    } else {
        format!("{package}.md")
    };
    let shown = if package == from_package {
        relative_name(full_name, package)
    } else {
        full_name
    };
    format!("[`{shown}`]({page}#{full_name})")
}

fn type_link(from_package: &str, message: &MessageDescriptor) -> String {
    named_link(from_package, message.full_name(), message.package_name())
}

fn kind_name(from_package: &str, kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => type_link(from_package, m),
        Kind::Enum(e) => named_link(from_package, e.full_name(), e.package_name()),
        scalar => format!("`{}`", format!("{scalar:?}").to_lowercase()),
    }
}

fn field_type(from_package: &str, field: &FieldDescriptor) -> String {
    if let Kind::Message(entry) = field.kind()
        && field.is_map()
    {
        let key = entry.map_entry_key_field().kind();
        let value = entry.map_entry_value_field().kind();
        return format!(
            "map<{}, {}>",
            kind_name(from_package, &key),
            kind_name(from_package, &value)
        );
    }
    let name = kind_name(from_package, &field.kind());
    let prefix = match (field.cardinality(), field.containing_oneof()) {
        (Cardinality::Repeated, _) => "repeated ".to_owned(),
        (_, Some(oneof)) if field.supports_presence() && oneof.is_synthetic() => {
            "optional ".to_owned()
        }
        (_, Some(oneof)) => format!("oneof `{}`: ", oneof.name()),
        _ => String::new(),
    };
    format!("{prefix}{name}")
}
