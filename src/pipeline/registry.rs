//! The factory registry: names to builders, and the build itself.
//!
//! A filter instance `NAME` in `[pipeline] filters` is configured by the
//! table `[filter.NAME]`; its key `use` names the factory (default: `NAME`
//! itself), every other key belongs to the factory. Apps work the same way
//! with `[app.NAME]`. Everything is built eagerly and every error is
//! collected, so one `check-config` run lists them all.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use figment::Figment;
use figment::providers::Serialized;
use figment::value::{Dict, Value};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::config::{ConfigError, Sources};
use crate::middleware::{BoxHttp, BoxHttpLayer};
use crate::pipeline::assembly::{EdgeLayer, Pipeline};
use crate::pipeline::urlmap::UrlMap;
use crate::pipeline::{BuildContext, BuildError, BuildErrors};

/// The name in `[urlmap]` that stands for the configured pipeline.
pub const PIPELINE_MOUNT: &str = "pipeline";

/// The table of one filter or app instance, `use` removed, ready for its
/// factory to deserialize into a typed config.
#[derive(Clone, Debug)]
pub struct FactoryTable {
    /// `filter` or `app`.
    pub kind: &'static str,
    /// The instance name (`keystone`).
    pub instance: String,
    /// The factory name (`keystone_auth`).
    pub factory: String,
    table: Dict,
    sources: Sources,
}

impl FactoryTable {
    /// A table built in code (embedders, tests).
    pub fn new(kind: &'static str, instance: &str, factory: &str, table: Dict) -> Self {
        FactoryTable {
            kind,
            instance: instance.into(),
            factory: factory.into(),
            table,
            sources: Sources::default(),
        }
    }

    /// The key path of this table, e.g. `filter.keystone`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.kind, self.instance)
    }

    /// The raw table.
    pub fn raw(&self) -> &Dict {
        &self.table
    }

    /// Deserializes the table into the factory's typed config. Give `T`
    /// `#[serde(deny_unknown_fields)]` and defaults for optional keys; the
    /// error names the file or variable, the full key path and the reason.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, BuildError> {
        let prefix = self.key();
        Figment::from(Serialized::defaults(&self.table))
            .extract::<T>()
            .map_err(|e| {
                let mut errors = ConfigError::from_figment(e, &prefix, &self.sources);
                for error in &mut errors {
                    // The value came through a serialized copy: ask the original
                    // figment where it really came from.
                    error.origin = self.sources.origin_of(&error.key);
                }
                match errors.into_iter().next() {
                    Some(error) => BuildError::Config(error),
                    None => self.invalid("", "invalid table"),
                }
            })
    }

    /// An error about `key` (relative to this table; `""` for the table).
    pub fn invalid(&self, key: &str, reason: impl fmt::Display) -> BuildError {
        let key = if key.is_empty() {
            self.key()
        } else {
            format!("{}.{key}", self.key())
        };
        BuildError::Config(ConfigError {
            origin: self.sources.origin_of(&key),
            key,
            reason: reason.to_string(),
        })
    }
}

/// Builds one configured filter: a boxed layer (sync: filters only
/// allocate caches and clients here, they do no I/O).
pub trait FilterFactory: Send + Sync + 'static {
    /// Builds the filter from its table.
    fn build(&self, table: &FactoryTable, ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError>;
}

impl<F> FilterFactory for F
where
    F: Fn(&FactoryTable, &BuildContext) -> Result<BoxHttpLayer, BuildError> + Send + Sync + 'static,
{
    fn build(&self, table: &FactoryTable, ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
        self(table, ctx)
    }
}

/// Builds one app: async, because an app may open its store or discover
/// endpoints before it can serve.
pub trait AppFactory: Send + Sync + 'static {
    /// Builds the app from its table.
    fn build(
        &self,
        table: FactoryTable,
        ctx: BuildContext,
    ) -> BoxFuture<'static, Result<BoxHttp, BuildError>>;
}

impl<F, Fut> AppFactory for F
where
    F: Fn(FactoryTable, BuildContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<BoxHttp, BuildError>> + Send + 'static,
{
    fn build(
        &self,
        table: FactoryTable,
        ctx: BuildContext,
    ) -> BoxFuture<'static, Result<BoxHttp, BuildError>> {
        Box::pin(self(table, ctx))
    }
}

/// Factory names to builders.
#[derive(Clone, Default)]
pub struct Registry {
    filters: BTreeMap<String, Arc<dyn FilterFactory>>,
    apps: BTreeMap<String, Arc<dyn AppFactory>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("filters", &self.filters.keys().collect::<Vec<_>>())
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// A registry with every built-in factory (see [`super::builtins`]).
    pub fn with_builtins() -> Self {
        let mut registry = Registry::new();
        super::builtins::register(&mut registry);
        registry
    }

    /// Registers (or replaces) a filter factory.
    pub fn register_filter(
        &mut self,
        name: impl Into<String>,
        factory: impl FilterFactory,
    ) -> &mut Self {
        self.filters.insert(name.into(), Arc::new(factory));
        self
    }

    /// Registers (or replaces) an app factory.
    pub fn register_app(&mut self, name: impl Into<String>, factory: impl AppFactory) -> &mut Self {
        self.apps.insert(name.into(), Arc::new(factory));
        self
    }

    /// The registered filter factory names.
    pub fn filter_names(&self) -> impl Iterator<Item = &str> {
        self.filters.keys().map(String::as_str)
    }

    /// The registered app factory names.
    pub fn app_names(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }

    /// The table of instance `name` of `kind` and its factory name.
    fn resolve(
        &self,
        kind: &'static str,
        name: &str,
        ctx: &BuildContext,
    ) -> Result<FactoryTable, BuildError> {
        let config = &ctx.config;
        let mut table = config.table(kind, name).cloned().unwrap_or_default();
        let factory = match table.remove("use") {
            None => name.to_string(),
            Some(Value::String(_, s)) => s,
            Some(_) => {
                let key = format!("{kind}.{name}.use");
                return Err(BuildError::Config(ConfigError {
                    origin: config.sources.origin_of(&key),
                    key,
                    reason: "must be a factory name (a string)".to_string(),
                }));
            }
        };
        Ok(FactoryTable {
            kind,
            instance: name.to_string(),
            factory,
            table,
            sources: config.sources.clone(),
        })
    }

    /// Where `name` was referenced from, for "unknown factory" errors.
    fn naming_key(kind: &str, name: &str, referenced_by: &str, ctx: &BuildContext) -> String {
        if ctx
            .config
            .table(kind, name)
            .is_some_and(|t| t.contains_key("use"))
        {
            format!("{kind}.{name}.use")
        } else {
            referenced_by.to_string()
        }
    }

    /// Builds filter instance `name` (listed at `referenced_by`).
    pub fn build_filter(&self, name: &str, ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
        let table = self.resolve("filter", name, ctx)?;
        let Some(factory) = self.filters.get(&table.factory) else {
            let key = Self::naming_key("filter", name, "pipeline.filters", ctx);
            return Err(BuildError::UnknownFilter {
                origin: ctx.config.sources.origin_of(&key),
                key,
                factory: table.factory,
                known: self.filter_names().collect::<Vec<_>>().join(", "),
            });
        };
        factory.build(&table, ctx)
    }

    /// Builds app instance `name`, referenced at `referenced_by`
    /// (`pipeline.app` or `urlmap./x`).
    pub async fn build_app(
        &self,
        name: &str,
        referenced_by: &str,
        ctx: &BuildContext,
    ) -> Result<BoxHttp, BuildError> {
        let table = self.resolve("app", name, ctx)?;
        let Some(factory) = self.apps.get(&table.factory) else {
            let key = Self::naming_key("app", name, referenced_by, ctx);
            return Err(BuildError::UnknownApp {
                origin: ctx.config.sources.origin_of(&key),
                key,
                factory: table.factory,
                known: self.app_names().collect::<Vec<_>>().join(", "),
            });
        };
        factory.build(table, ctx.clone()).await
    }

    /// Builds the `[pipeline] filters`, in order, collecting every error.
    pub fn build_pipeline(&self, ctx: &BuildContext) -> Result<Pipeline, BuildErrors> {
        let mut pipeline = Pipeline::new();
        let mut errors = Vec::new();
        for name in &ctx.config.pipeline.filters {
            match self.build_filter(name, ctx) {
                Ok(layer) => pipeline.push_boxed(name.clone(), layer),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(pipeline)
        } else {
            Err(BuildErrors(errors))
        }
    }

    /// Builds the whole service: the edge, around the `[urlmap]`, whose
    /// `pipeline` mount is the filters around `[pipeline] app`. Every error
    /// of every filter and app is collected.
    pub async fn build_service(&self, ctx: &BuildContext) -> Result<BoxHttp, BuildErrors> {
        let config = ctx.config.clone();
        let mut errors = Vec::new();
        let pipeline = self
            .build_pipeline(ctx)
            .map_err(|e| errors.extend(e.0))
            .ok();
        let app = self
            .build_app(&config.pipeline.app, "pipeline.app", ctx)
            .await
            .map_err(|e| errors.push(e))
            .ok();

        let mut mounts = Vec::new();
        for (prefix, target) in &config.urlmap {
            let service = if target == PIPELINE_MOUNT {
                match (&pipeline, &app) {
                    (Some(p), Some(a)) => Some(tower::Layer::layer(p, a.clone())),
                    _ => None,
                }
            } else {
                self.build_app(target, &format!("urlmap.{prefix}"), ctx)
                    .await
                    .map_err(|e| errors.push(e))
                    .ok()
            };
            if let Some(service) = service {
                mounts.push((prefix.clone(), service));
            }
        }
        if !errors.is_empty() {
            // One cause shared by several factories (a missing
            // `synnefo.identity_url`) is reported once.
            let mut seen = std::collections::HashSet::new();
            errors.retain(|e| seen.insert(e.to_string()));
            return Err(BuildErrors(errors));
        }
        Ok(tower::Layer::layer(
            &EdgeLayer::new(),
            BoxHttp::new(UrlMap::new(mounts)),
        ))
    }
}
