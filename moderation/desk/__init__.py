"""The review desk's page: plain HTML, CSS and JavaScript served by ``moderation.review``, nothing from the network."""
