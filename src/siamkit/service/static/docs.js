// Starts Swagger UI (its files come from the fastapi-offline package: nothing from a CDN).
// A separate file, not an inline script, so the page keeps the service's strict CSP.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    persistAuthorization: false,
    defaultModelsExpandDepth: 2,
    defaultModelExpandDepth: 3,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
