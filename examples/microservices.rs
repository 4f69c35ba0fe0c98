//! The microservices application of the TypeKro seed, in kroxide.
//!
//! An API gateway (nginx) in front of user, product and order services, with
//! shared configuration, database secrets and an ingress; the status reports
//! each service and the overall health.
//!
//! ```sh
//! cargo run --example microservices -- render      # the RGD, for GitOps
//! cargo run --example microservices -- validate    # offline checks, apply order
//! ```

use kroxide::prelude::*;
#[cfg(not(test))]
use std::process::ExitCode;

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MicroservicesSpec {
    pub environment: Environment,
    pub version: String,
    pub gateway: Gateway,
    pub services: Services,
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Staging,
    Production,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Gateway {
    pub domain: String,
    #[schema(minimum = 0)]
    pub replicas: i32,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Services {
    pub user: Backend,
    pub product: Backend,
    pub order: Backend,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Backend {
    pub image: String,
    #[schema(minimum = 0)]
    pub replicas: i32,
    pub database: Database,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Database {
    pub host: String,
    pub name: String,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MicroservicesStatus {
    pub gateway_url: String,
    pub services: ServicesStatus,
    pub health: Health,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ServicesStatus {
    pub user: ServiceStatus,
    pub product: ServiceStatus,
    pub order: ServiceStatus,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ServiceStatus {
    pub url: String,
    pub ready: bool,
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Degraded,
    Unhealthy,
}

const NGINX_CONF: &str = r#"events {
  worker_connections 1024;
}
http {
  upstream user-service {
    server user-service:3000;
  }
  upstream product-service {
    server product-service:3000;
  }
  upstream order-service {
    server order-service:3000;
  }
  server {
    listen 80;
    location /api/users/ {
      proxy_pass http://user-service/;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
    }
    location /api/products/ {
      proxy_pass http://product-service/;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
    }
    location /api/orders/ {
      proxy_pass http://order-service/;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
    }
    location /health {
      return 200 "OK";
      add_header Content-Type text/plain;
    }
  }
}
"#;

pub fn microservices_app() -> ResourceGraph<MicroservicesSpec, MicroservicesStatus> {
    ResourceGraph::<MicroservicesSpec, MicroservicesStatus>::new(
        "microservices-app",
        "example.com/v1alpha1",
        "MicroservicesApp",
    )
    .build(|g, spec| {
        // Shared configuration for all services.
        let app_config = g.add(
            ConfigMap::new("app-config")
                .data("ENVIRONMENT", spec.environment.as_str())
                .data("VERSION", &spec.version)
                .data(
                    "LOG_LEVEL",
                    spec.environment
                        .eq(Environment::Production)
                        .then_else("info", "debug"),
                )
                .data("USER_SERVICE_URL", "http://user-service:3000")
                .data("PRODUCT_SERVICE_URL", "http://product-service:3000")
                .data("ORDER_SERVICE_URL", "http://order-service:3000"),
        );
        // Database passwords (already base64, as in the seed).
        let db_secrets = g.add(
            Secret::new("db-secrets")
                .data_base64("USER_DB_PASSWORD", "dXNlcl9wYXNzd29yZA==")
                .data_base64("PRODUCT_DB_PASSWORD", "cHJvZHVjdF9wYXNzd29yZA==")
                .data_base64("ORDER_DB_PASSWORD", "b3JkZXJfcGFzc3dvcmQ="),
        );

        // The three backends differ only in name, spec and secret key.
        let mut backend = |key: &str, b: &BackendRef, secret_key: &str| {
            let name = format!("{key}-service");
            let d = g.add_as(
                &format!("{key}Deployment"),
                Deployment::new(name.as_str(), &b.image)
                    .replicas(&b.replicas)
                    .pod_label("component", "backend")
                    .port(3000)
                    .env("PORT", "3000")
                    .env("DB_HOST", &b.database.host)
                    .env("DB_NAME", &b.database.name)
                    .env_secret("DB_PASSWORD", &db_secrets, secret_key)
                    .env_from(&app_config)
                    .liveness(http_get("/health", 3000))
                    .readiness(http_get("/ready", 3000)),
            );
            let s = g.add_as(&format!("{key}Service"), Service::exposing(&d).port(3000));
            (d, s)
        };
        let (user, user_svc) = backend("user", &spec.services.user, "USER_DB_PASSWORD");
        let (product, product_svc) =
            backend("product", &spec.services.product, "PRODUCT_DB_PASSWORD");
        let (order, order_svc) = backend("order", &spec.services.order, "ORDER_DB_PASSWORD");

        // The API gateway: nginx with its configuration mounted.
        let gateway_config = g.add(ConfigMap::new("gateway-config").data("nginx.conf", NGINX_CONF));
        let gateway = g.add_as(
            "gatewayDeployment",
            Deployment::new("api-gateway", "nginx:alpine")
                .replicas(&spec.gateway.replicas)
                .port(80)
                .mount(&gateway_config, "/etc/nginx/nginx.conf")
                .sub_path("nginx.conf"),
        );
        let gateway_svc = g.add_as(
            "gatewayService",
            Service::exposing(&gateway).port(80).load_balancer(),
        );
        g.add_as(
            "ingress",
            Ingress::new("microservices-ingress").route(
                &spec.gateway.domain,
                "/",
                &gateway_svc,
                80,
            ),
        );

        let ready = |d: &Handle<Deployment>| d.status().ready_replicas().eq(d.spec().replicas());
        let url = |s: &Handle<Service>| template!("http://{}:3000", s.name());
        MicroservicesStatusExpr {
            gateway_url: template!("https://{}", spec.gateway.domain),
            services: ServicesStatusExpr {
                user: ServiceStatusExpr {
                    url: url(&user_svc),
                    ready: ready(&user),
                },
                product: ServiceStatusExpr {
                    url: url(&product_svc),
                    ready: ready(&product),
                },
                order: ServiceStatusExpr {
                    url: url(&order_svc),
                    ready: ready(&order),
                },
            },
            health: (ready(&user) & ready(&product) & ready(&order)).then_else(
                Health::Healthy,
                (user.status().ready_replicas().gt(0) | product.status().ready_replicas().gt(0))
                    .then_else(Health::Degraded, Health::Unhealthy),
            ),
        }
    })
}

// The tests include this file for its graph; `main`, the graph's command
// line (kroxide-cli), is the example binary's alone.
#[cfg(not(test))]
fn main() -> ExitCode {
    kroxide_cli::graph_main(&microservices_app())
}
