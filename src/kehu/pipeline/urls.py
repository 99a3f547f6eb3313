from django.urls import path

from kehu.pipeline import views, views_money

app_name = "pipeline"

urlpatterns = [
    path("", views.board, name="board"),
    path("board/stages/<int:stage_id>/", views.board_column, name="board_column"),
    path("deals/", views.deal_list, name="deals"),
    path("deals/new/", views.deal_edit, name="deal_create"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal"),
    path("deals/<int:deal_id>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:deal_id>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:deal_id>/order/", views.deal_order, name="deal_order"),
    path("quotes/new/", views_money.quote_edit, name="quote_create"),
    path("quotes/<int:quote_id>/", views_money.quote_detail, name="quote"),
    path("quotes/<int:quote_id>/edit/", views_money.quote_edit, name="quote_edit"),
    path("quotes/<int:quote_id>/print/", views_money.quote_print, name="quote_print"),
    path("quotes/<int:quote_id>/pdf/", views_money.quote_pdf, name="quote_pdf"),
    path("quotes/<int:quote_id>/<str:action>/", views_money.quote_action, name="quote_action"),
    path("contracts/", views_money.contract_list, name="contracts"),
    path("contracts/new/", views_money.contract_create, name="contract_create"),
    path("contracts/<int:contract_id>/", views_money.contract_detail, name="contract"),
    path("contracts/<int:contract_id>/attachments/<int:attachment_id>/",
         views_money.attachment_download, name="attachment"),
    path("contracts/<int:contract_id>/<str:action>/", views_money.contract_post,
         name="contract_post"),
    path("invoices/<int:request_id>/status/", views_money.invoice_status,
         name="invoice_status"),
    path("receivables/", views_money.receivables, name="receivables"),
    path("forecast/", views_money.forecast, name="forecast"),
    path("pipelines/", views.pipelines, name="pipelines"),
    path("pipelines/new/", views.pipeline_edit, name="pipeline_create"),
    path("pipelines/<int:pipeline_id>/", views.pipeline_edit, name="pipeline_edit"),
]
