app_name = "authenticity"
urlpatterns: list = [
    # /authenticity/ (queue, appraise, rejected units) and /verify/ are added here.
]
