from django.urls import path
from prices import views

urlpatterns = [
    path("price", views.price),
    path("health", views.health),
]
