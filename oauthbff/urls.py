from django.urls import path

from oauthbff import views

app_name = "oauthbff"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("callback/", views.CallbackView.as_view(), name="callback"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("refresh/", views.refresh_view, name="refresh"),
    path("user/", views.user_view, name="user"),
    path("backchannel-logout/", views.backchannel_logout_view, name="backchannel_logout"),
    path("sessions/", views.sessions_view, name="sessions"),
    path("jwks.json", views.jwks_view, name="jwks"),
]
