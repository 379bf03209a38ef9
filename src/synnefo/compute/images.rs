//! Cyclades compute v2.0 images: what a server boots (Plankton images,
//! volume snapshots among them).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Summary, seg};
use crate::synnefo::serde_util::{id, null_default};
use crate::synnefo::{Caller, Client, Result, Service};

/// An image as the compute API shows it.
///
/// grnet/synnefo 0.20: `synnefo/api/images.py` `image_to_dict`.
#[derive(Clone, Debug, Deserialize)]
pub struct Image {
    /// Id (a UUID).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `ACTIVE`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// Metadata: `os`, `users` (space separated), `osfamily`, ...
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, String>,
    /// Owner UUID.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Whether everybody may use it.
    #[serde(default)]
    pub public: Option<bool>,
    /// Whether it is a volume snapshot (`api/images.py` `image_to_dict`):
    /// a snapshot is an image private to its owner, `SAVING` while it is
    /// taken and `ACTIVE` after.
    #[serde(default)]
    pub is_snapshot: Option<bool>,
}

impl Image {
    /// The image's login users (metadata `users`, space separated). The
    /// key is matched in any case: snf-image and Plankton write image
    /// properties in upper case (`USERS`, `OSFAMILY`), older images and
    /// the API guide's examples in lower case.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.metadata
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("users"))
            .map(|(_, users)| users.as_str())
            .unwrap_or("")
            .split_whitespace()
    }
}

/// grnet/synnefo 0.20: `synnefo/api/images.py` `list_images`.
#[derive(Deserialize)]
struct Images<T> {
    images: Vec<T>,
}
/// grnet/synnefo 0.20: `synnefo/api/images.py` `get_image_details`.
#[derive(Deserialize)]
struct OneImage {
    image: Image,
}

impl Client {
    /// `GET /images`.
    pub async fn list_images(&self, caller: &Caller) -> Result<Vec<Summary>> {
        let r: Images<Summary> = self
            .get_json(Service::Compute, "/images", &[], caller)
            .await?;
        Ok(r.images)
    }

    /// `GET /images/detail`.
    pub async fn list_images_detail(&self, caller: &Caller) -> Result<Vec<Image>> {
        let r: Images<Image> = self
            .get_json(Service::Compute, "/images/detail", &[], caller)
            .await?;
        Ok(r.images)
    }

    /// `GET /images/{id}`.
    pub async fn get_image(&self, caller: &Caller, image_id: &str) -> Result<Image> {
        let path = format!("/images/{}", seg(image_id));
        let r: OneImage = self.get_json(Service::Compute, &path, &[], caller).await?;
        Ok(r.image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_images_users_are_read_whatever_the_case_of_the_key() {
        for key in ["users", "USERS", "Users"] {
            let image: Image = serde_json::from_value(serde_json::json!({
                "id": "i", "name": "Debian", "metadata": {key: "root user"},
            }))
            .expect("image");
            assert_eq!(image.users().collect::<Vec<_>>(), ["root", "user"], "{key}");
        }
    }
}
