//! Where each service is: configured, else from the Astakos catalog,
//! discovered once (single flight) and rediscovered when a discovered
//! endpoint stops answering.

use std::sync::Arc;

use snf_occi_types::RequestId;

use super::{Client, Service, trim};
use crate::synnefo::error::SynnefoError;
use crate::synnefo::identity::Access;

/// Endpoints found in one catalog.
#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    compute: Option<String>,
    network: Option<String>,
    volume: Option<String>,
    image: Option<String>,
}

impl Endpoints {
    fn from_access(access: &Access) -> Endpoints {
        let find = |service: Service| access.endpoint(service.catalog_type());
        Endpoints {
            compute: find(Service::Compute),
            network: find(Service::Network),
            volume: find(Service::Volume),
            image: find(Service::Image),
        }
    }

    fn get(&self, service: Service) -> Option<&str> {
        match service {
            Service::Compute => self.compute.as_deref(),
            Service::Network => self.network.as_deref(),
            Service::Volume => self.volume.as_deref(),
            Service::Image => self.image.as_deref(),
            Service::Identity => None,
        }
    }
}

impl Client {
    /// The endpoint of a service: configured, else from the catalog
    /// (discovered on first use).
    pub async fn endpoint(
        &self,
        service: Service,
        request_id: Option<&RequestId>,
    ) -> Result<String, SynnefoError> {
        Ok(self.resolve(service, request_id).await?.0)
    }

    /// Forgets the discovered endpoints; the next call rediscovers them.
    pub fn forget_endpoints(&self) {
        if let Ok(mut guard) = self.inner.endpoints.write() {
            *guard = None;
        }
    }

    pub(super) fn cached(&self) -> Option<Arc<Endpoints>> {
        self.inner.endpoints.read().ok().and_then(|g| g.clone())
    }

    pub(super) async fn resolve(
        &self,
        service: Service,
        request_id: Option<&RequestId>,
    ) -> Result<(String, Option<Arc<Endpoints>>), SynnefoError> {
        if let Some(url) = self.inner.config.explicit(service) {
            return Ok((trim(url).to_owned(), None));
        }
        let endpoints = match self.cached() {
            Some(e) => e,
            None => self.discover(request_id).await?,
        };
        match endpoints.get(service) {
            Some(url) => Ok((url.to_owned(), Some(endpoints))),
            None => Err(SynnefoError::NoEndpoint { service }),
        }
    }

    async fn discover(
        &self,
        request_id: Option<&RequestId>,
    ) -> Result<Arc<Endpoints>, SynnefoError> {
        let _flight = self.inner.discovery.lock().await;
        if let Some(e) = self.cached() {
            return Ok(e);
        }
        let access = self.public_catalog(request_id).await?;
        let endpoints = Arc::new(Endpoints::from_access(&access));
        if let Ok(mut guard) = self.inner.endpoints.write() {
            *guard = Some(endpoints.clone());
        }
        Ok(endpoints)
    }

    /// Drops `used` from the cache if it is still the cached catalog.
    pub(super) fn invalidate(&self, used: &Arc<Endpoints>) {
        if let Ok(mut guard) = self.inner.endpoints.write()
            && guard
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(current, used))
        {
            *guard = None;
        }
    }
}
